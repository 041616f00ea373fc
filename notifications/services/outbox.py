"""Customer notifications: the transactional outbox.

Every write here happens in the caller's transaction: a Notification row per customer-facing update
and channel, with a dedupe key so the same cause can never produce two rows. After commit a Celery
task per row delivers it (``notifications.delivery``); if the broker is down the rows simply wait
for the relay (``notifications_relay_claim``), which a beat schedule runs every minute.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.sql import insert_sql

from ..models import Notification, NotificationPreference
from ..rendering import json_plain

logger = logging.getLogger(__name__)

E = Notification.Event
# Events a customer cannot switch off: they change what the customer receives or pays.
OPTIONAL_EVENTS = {E.REGULAR_UPDATE}


def _conf(name: str):
    return settings.OMS[name]


# --- the hook: backorder events → outbox rows --------------------------------------------------


def _parse_date(value) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def eta_change_is_news(*, old: date | None, new: date | None) -> tuple[bool, str]:
    """Whether an ETA change is worth telling the customer, and which way it moved."""
    if old == new:
        return False, "same"
    if new is not None and new <= timezone.localdate():
        # Stock is in the building (or a purchase order is overdue): the "ready" message follows as soon as
        # units are set aside, so a date of today is noise.
        return False, "today"
    if old is None:
        return True, "confirmed"
    if new is None:
        return True, "unknown"
    if new < old:
        return True, "earlier"
    return (new - old).days > _conf("NOTIFY_ETA_CHANGE_THRESHOLD_DAYS"), "later"


def _notify_event_for(event) -> str | None:
    """Which customer notification a backorder event causes (None: internal only)."""
    kind = event.kind
    if kind == "created":
        return E.BACKORDER_CREATED
    if kind == "allocated":
        return E.READY
    if kind == "fulfilled":
        return E.SHIPPED
    if kind == "cancelled":
        if event.quantity == 0 and (event.data or {}).get("status") != "cancelled":
            return None  # nothing changed for the customer's backorder
        return E.SUBSTITUTE_ACCEPTED if (event.data or {}).get("substitute") else E.CANCELLED
    if kind == "eta_changed":
        data = event.data or {}
        news, _ = eta_change_is_news(old=_parse_date(data.get("old")), new=_parse_date(data.get("new")))
        return E.ETA_CHANGED if news else None
    if kind == "note" and (event.data or {}).get("customer_update"):
        return E.MANUAL_UPDATE
    # partially_allocated, deallocated, priority_changed, internal notes: nothing the customer must act on.
    return None


def notifications_from_backorder_events(*, events, loaded: bool = False) -> list[Notification]:
    """Write the outbox rows that these backorder events cause, in the caller's transaction.

    ``loaded``: the events' backorders are at hand as just written, with their product, order, the order's customer
    and channel (order placement): they are not read again; the customers' preferences and the channels' webhook
    endpoints are read in one round trip, and the order's lines come from ``order.placed_lines``. The rows written
    are kept on the order (``order.placed_notifications``) for the caller's answer.

    Events of one call are grouped per order and notification kind, so placing an order with three
    short lines sends one "backorder created" message listing all three.
    """
    from backorders.models import Backorder

    relevant = [(event, kind) for event in events if (kind := _notify_event_for(event))]
    if not relevant:
        return []
    if loaded:
        from .loaded import backorders_as_loaded

        backorders = backorders_as_loaded(event.backorder for event, _ in relevant)
    else:
        backorders = {
            b.pk: b
            for b in Backorder.objects.select_related(
                "order__customer__notification_preference", "order__channel", "product"
            )
            .prefetch_related("order__channel__webhook_endpoints")
            .filter(pk__in={event.backorder_id for event, _ in relevant})
        }
    groups: dict[tuple[int, str], list] = defaultdict(list)
    for event, kind in relevant:
        backorder = backorders[event.backorder_id]
        groups[(backorder.order_id, kind)].append((event, backorder))

    rows: list[Notification] = []
    eta_moved = []
    eta_groups: list[tuple[list[Notification], list]] = []
    for (order_id, kind), members in groups.items():
        members.sort(key=lambda m: m[0].pk)
        first_event = members[0][0]
        # An order's backorders are all created when it is placed: one "created" message per order.
        key = f"{kind}:o{order_id}" if kind == E.BACKORDER_CREATED else f"{kind}:o{order_id}:e{first_event.pk}"
        items = [outbox_item(backorder, event) for event, backorder in members]
        data: dict[str, Any] = {}
        if kind == E.CANCELLED:
            data["payment_text"] = _conf("NOTIFY_CANCELLATION_PAYMENT_TEXT")
            reasons = sorted({(e.data or {}).get("reason") or "" for e, _ in members} - {""})
            data["reason"] = "; ".join(reasons)
        elif kind == E.SUBSTITUTE_ACCEPTED:
            data["substitute"] = first_event.data["substitute"]
        elif kind == E.MANUAL_UPDATE:
            data["note"] = first_event.data.get("note", "")
        group_rows = outbox_rows(
            order=members[0][1].order,
            backorders=[b for _, b in members],
            event=kind,
            key=key,
            items=items,
            data=data,
        )
        rows += group_rows
        if kind == E.ETA_CHANGED:
            eta_moved += [backorder for _, backorder in members]
            eta_groups.append((group_rows, members))
    if eta_groups:
        from .digest import eta_digest_rows

        rows = eta_digest_rows(rows, eta_groups)
    # A new date that lies far out may earn the long-delay incentive.
    from .incentives import _incentive_rows

    rows += _incentive_rows(eta_moved, timezone.now())
    # One insert for the whole batch: an ETA recompute can move thousands of backorders at once, and it
    # holds the product's stock lock while it does.
    written = outbox_insert(rows)
    if loaded:
        for backorder in backorders.values():
            backorder.order.placed_notifications = [n for n in written if n.order_id == backorder.order_id]
    return written


def outbox_item(backorder, event=None) -> dict[str, Any]:
    item = {
        "backorder_id": backorder.pk,
        "sku": backorder.product.sku,
        "name": backorder.product.name,
        "quantity": backorder.quantity,
        "waiting": backorder.quantity_outstanding,
        "status": backorder.status,
        "eta": backorder.eta,
        "eta_basis": backorder.eta_basis,
    }
    if event is not None:
        if event.quantity:
            item["quantity"] = event.quantity
        elif event.kind == "cancelled":
            item["quantity"] = backorder.quantity_allocated  # units that were set aside, released by the cancel
        if event.kind == "eta_changed":
            data = event.data or {}
            old, new = _parse_date(data.get("old")), _parse_date(data.get("new"))
            item.update(old_eta=old, new_eta=new, eta=new, eta_direction=eta_change_is_news(old=old, new=new)[1])
            if data.get("basis"):
                item["eta_basis"] = data["basis"]
    return item


def _preference_of(customer) -> NotificationPreference | None:
    """The customer's preferences (none saved: the defaults). Free when select_related loaded them."""
    try:
        return customer.notification_preference
    except NotificationPreference.DoesNotExist:
        return None


def _endpoints_for(sales_channel, event: str) -> list:
    """The channel's active webhook endpoints subscribed to ``event`` (no query when prefetched)."""
    if sales_channel is None or not sales_channel.is_active:
        return []
    return [e for e in sales_channel.webhook_endpoints.all() if e.is_active and event in e.events]


def _channels_for(*, order, preference: NotificationPreference | None, event: str) -> list[tuple[str, str, object]]:
    """(channel, recipient, webhook endpoint) triples for an order's customer and one event.

    Every active endpoint of the storefront subscribed to the event hears it (the shop keeps its own view of the
    order up to date). E-mail goes out unless the customer chose to hear through the shop and the shop has an
    endpoint for this event to tell them.
    """
    endpoints = _endpoints_for(order.channel, event)
    prefers_shop = preference is not None and preference.preferred_channel == NotificationPreference.Channel.WEBHOOK
    channels: list[tuple[str, str, object]] = []
    if order.customer.email and not (prefers_shop and endpoints):
        channels.append((Notification.Channel.EMAIL, order.customer.email, None))
    channels += [(Notification.Channel.WEBHOOK, endpoint.url, endpoint) for endpoint in endpoints]
    return channels


def outbox_write(*, order, backorders, event: str, key: str, items: list[dict], data: dict) -> list[Notification]:
    """Insert one row per channel (skipping keys that exist), then enqueue them after commit."""
    return outbox_insert(outbox_rows(order=order, backorders=backorders, event=event, key=key, items=items, data=data))


def outbox_rows(*, order, backorders, event: str, key: str, items: list[dict], data: dict) -> list[Notification]:
    """The unsaved rows, one per channel, for one customer-facing update (no query when select_related
    loaded the order's customer, preference and channel).

    Only what happened is captured here (the caller's transaction may hold stock locks); the message is
    rendered when it is first sent (``notifications.rendering``).
    """
    preference = _preference_of(order.customer)
    if event in OPTIONAL_EVENTS and preference is not None and not preference.regular_updates:
        return []
    channels = _channels_for(order=order, preference=preference, event=event)
    if not channels:
        return []
    context = json_plain(
        {
            "items": items,
            "data": data,
            "backorder_ids": [b.pk for b in backorders],
            "occurred_at": timezone.now().isoformat(),
            "shipping_now": _shipping_now(order) if event == E.BACKORDER_CREATED else [],
        }
    )
    now = timezone.now()
    return [
        Notification(
            customer_id=order.customer_id,
            order=order,
            backorder=backorders[0] if len(backorders) == 1 else None,
            event=event,
            channel=channel,
            # One webhook row per endpoint: the endpoint is part of the key.
            dedupe_key=f"{key}:{channel}" if endpoint is None else f"{key}:{channel}:{endpoint.pk}",
            recipient=recipient,
            webhook_endpoint=endpoint,
            context=context,
            next_attempt_at=now,
        )
        for channel, recipient, endpoint in channels
    ]


OUTBOX_BATCH = 2000


def outbox_insert(rows: list[Notification]) -> list[Notification]:
    """Insert rows in batches (ON CONFLICT DO NOTHING: a repeated cause is a no-op, not an error that
    would abort the caller), and enqueue the pending ones after commit.

    On PostgreSQL a batch is one statement returning the new rows' ids; a batch where some rows already existed (a
    repeated cause) reads back its pending rows by key, as elsewhere (where every batch is read back)."""
    if not rows:
        return []
    written: list[Notification] = []
    for start in range(0, len(rows), OUTBOX_BATCH):
        batch = rows[start : start + OUTBOX_BATCH]
        if connection.vendor == "postgresql":
            sql, params = insert_sql(batch, returning=("id", "dedupe_key"))
            sql = sql.replace(" RETURNING ", " ON CONFLICT DO NOTHING RETURNING ", 1)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                ids = dict((key, pk) for pk, key in cursor.fetchall())
            if len(ids) == len(batch):
                for row in batch:
                    row.pk = ids[row.dedupe_key]
                    row._state.adding, row._state.db = False, connection.alias
                written += batch
                continue
        else:
            Notification.objects.bulk_create(batch, ignore_conflicts=True)
        written += Notification.objects.filter(
            dedupe_key__in=[row.dedupe_key for row in batch], status=Notification.Status.PENDING
        ).order_by("pk")
    notifications_enqueue_on_commit(
        notification_ids=[n.pk for n in written], channels={n.pk: n.channel for n in written}
    )
    return written


def _shipping_now(order) -> list[dict]:
    from orders.models import OrderLine

    lines = getattr(order, "placed_lines", None)  # just written, with their products (order placement)
    if lines is None:
        lines = OrderLine.objects.filter(order=order, quantity_allocated__gt=0).select_related("product")
    return [
        {"sku": line.product.sku, "name": line.product.name, "quantity": line.quantity_allocated}
        for line in sorted(lines, key=lambda line: line.pk)
        if line.quantity_allocated > 0
    ]


# --- enqueue after commit ---------------------------------------------------------------------


def notifications_enqueue_on_commit(*, notification_ids: list[int], channels: dict[int, str] | None = None) -> None:
    """Publish after commit; ``channels`` (id → channel), when the caller knows them, spares reading them then."""
    if notification_ids:
        transaction.on_commit(
            lambda ids=tuple(notification_ids): notifications_enqueue(notification_ids=ids, channels=channels)
        )


QUEUES = {Notification.Channel.EMAIL: "notifications.email", Notification.Channel.WEBHOOK: "notifications.webhook"}


def notification_queue(channel: str) -> str:
    """The Celery queue of a notification's send task: one per delivery channel (docs/operations.md),
    so a slow mail server or webhook receiver never holds up the other kind, nor the domain tasks."""
    return QUEUES[channel]


def notifications_enqueue(*, notification_ids, countdown: float | None = None, channels=None) -> int:
    """Publish a send task per row, on its channel's queue. Never raises: a broker that is down leaves the rows
    pending for the relay, and the change that caused them has already committed. Returns how many were
    published (in the order of ``notification_ids``). ``channels``: id → channel of rows just written (not read
    again; a row deleted meanwhile gets a message all the same, which finds nothing to send)."""
    from ..tasks import notification_send

    notification_ids = list(notification_ids)
    published = 0
    try:
        if channels is None:
            channels = dict(Notification.objects.filter(pk__in=notification_ids).values_list("pk", "channel"))
        # One producer (one broker connection) for the whole batch.
        with notification_send.app.producer_or_acquire() as producer:
            for notification_id in notification_ids:
                channel = channels.get(notification_id)
                if channel is not None:  # a row that no longer exists needs no message
                    notification_send.apply_async(
                        args=[notification_id],
                        countdown=countdown,
                        producer=producer,
                        queue=notification_queue(channel),
                    )
                published += 1
    except Exception:  # noqa: BLE001 — whatever the broker raised, the rows wait for the relay
        logger.warning(
            "Could not enqueue %d notification(s); the relay will pick them up",
            len(notification_ids) - published,
            exc_info=True,
        )
    return published
