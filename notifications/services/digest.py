"""The "your delivery dates changed" digest: when one ETA rewrite moves more than ``ETA_DIGEST_ABOVE`` of one
customer's backorders, that customer gets ONE e-mail listing every moved backorder (order, SKU, old → new date)
instead of one per order. Shops' webhooks stay one per order (their machines update each order page); incentives
are unchanged. ``notifications.bulk_eta`` writes the same rows set-based (tests prove they agree)."""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from ..models import ETA_DIGEST_ABOVE, Notification
from ..rendering import json_plain


def eta_digest_rows(rows: list[Notification], eta_groups: list[tuple[list[Notification], list]]) -> list[Notification]:
    """``rows`` with the ``eta_changed`` e-mails of each customer whose e-mailed orders have more than
    ``ETA_DIGEST_ABOVE`` distinct backorders moved replaced by one digest row. ``eta_groups``: the rows written for
    one order's ``eta_changed`` update, with its members (event, backorder)."""
    by_customer: dict[int, list[tuple[Notification, list]]] = defaultdict(list)
    for group_rows, members in eta_groups:
        for row in group_rows:
            if row.channel == Notification.Channel.EMAIL:
                by_customer[row.customer_id].append((row, members))
    replaced: set[int] = set()
    digests: list[Notification] = []
    for customer_id, emails in by_customer.items():
        if len({backorder.pk for _, members in emails for _, backorder in members}) <= ETA_DIGEST_ABOVE:
            continue
        replaced.update(id(row) for row, _ in emails)
        digests.append(_digest(customer_id, emails))
    return [row for row in rows if id(row) not in replaced] + digests


def _digest(customer_id: int, emails: list[tuple[Notification, list]]) -> Notification:
    from .outbox import outbox_item

    members = sorted((m for _, members in emails for m in members), key=lambda m: m[0].pk)
    orders = sorted(emails, key=lambda email: min(event.pk for event, _ in email[1]))
    first, last = members[0][0].pk, members[-1][0].pk
    items = [
        {**outbox_item(backorder, event), "order_id": backorder.order_id, "order_number": backorder.order.number}
        for event, backorder in members
    ]
    return Notification(
        customer_id=customer_id,
        order=orders[0][0].order,  # the row needs one: the first; context["order_ids"] lists every one
        backorder=None,
        event=Notification.Event.ETA_DIGEST,
        channel=Notification.Channel.EMAIL,
        dedupe_key=f"{Notification.Event.ETA_DIGEST}:c{customer_id}:e{first}-{last}:{Notification.Channel.EMAIL}",
        recipient=orders[0][0].recipient,
        context=json_plain(
            {
                "items": items,
                "data": {},
                "backorder_ids": [backorder.pk for _, backorder in members],
                "order_ids": [row.order_id for row, _ in orders],
                "occurred_at": timezone.now().isoformat(),
                "shipping_now": [],
            }
        ),
        next_attempt_at=timezone.now(),
    )
