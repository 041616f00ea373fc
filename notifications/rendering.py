"""What a notification says: the e-mail (subject, text, HTML from templates) and the webhook payload.

The causing transaction stores only what happened (``Notification.context``). The message is rendered
here just before the first attempt — with the alternatives in stock at that moment — and stored on the
row, so the row records exactly what was sent, and every retry sends the same thing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from orders.status_links import order_status_url

DATE_KEYS = ("eta", "old_eta", "new_eta")


def json_plain(value: Any) -> Any:
    """JSON-safe copy of a context value (dates as ISO strings, decimals as strings)."""
    if isinstance(value, dict):
        return {key: json_plain(val) for key, val in value.items()}
    if isinstance(value, list | tuple):
        return [json_plain(val) for val in value]
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def incentive_dict(incentive) -> dict[str, Any]:
    return {
        "kind": incentive.kind,
        "kind_display": incentive.get_kind_display(),
        "code": incentive.code,
        "amount": str(incentive.amount),
        "currency": incentive.currency,
    }


def render_email(*, event: str, context: dict[str, Any]) -> tuple[str, str, str]:
    ctx = {**context, "event": event}
    # Plain text (the template turns autoescape off: no &quot; in a subject), on one line: newlines in a
    # header would be refused by the mail backend, so every run of whitespace becomes one space.
    subject = " ".join(render_to_string("notifications/email/subject.txt", ctx).split())
    text = render_to_string("notifications/email/message.txt", ctx).strip() + "\n"
    html = render_to_string("notifications/email/message.html", ctx)
    return subject, text, html


def build_payload(*, event: str, dedupe_key: str, context: dict[str, Any]) -> dict[str, Any]:
    """The webhook body: everything a storefront needs to show the update without calling back."""
    order = context["order"]
    return {
        "id": dedupe_key,  # stable: a receiver can drop a repeated delivery by this id
        "event": event,
        "occurred_at": json_plain(context["occurred_at"]),
        "order": {"id": order.pk, "number": order.number, "status": order.status},
        "customer": {"external_id": context["customer"].external_id},
        "items": json_plain(context["items"]),
        "shipping_now": json_plain(context.get("shipping_now", [])),
        "data": json_plain(context.get("data", {})),
        "status_url": context["status_url"],  # the customer's status page (signed link, no login)
    }


def _as_date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def render_context(notification) -> dict[str, Any]:
    """The template context of a notification: the stored facts plus alternatives and incentives now."""
    from backorders.models import Backorder
    from backorders.substitutes import alternatives_for_products

    from .models import Incentive

    stored = notification.context or {}
    order = notification.order
    backorders = {b.pk: b for b in Backorder.objects.filter(pk__in=stored.get("backorder_ids", []))}
    waiting = [b.product_id for b in backorders.values() if b.is_waiting]
    alternatives = alternatives_for_products(waiting) if waiting else {}
    incentives = {i.backorder_id: i for i in Incentive.objects.filter(backorder__in=list(backorders))}
    items = []
    for stored_item in stored.get("items", []):
        item = dict(stored_item)
        for key in DATE_KEYS:
            if key in item:
                item[key] = _as_date(item[key])
        backorder = backorders.get(item.get("backorder_id"))
        product_id = backorder.product_id if backorder else None
        item["alternatives"] = [a.as_dict() for a in alternatives.get(product_id, [])]
        incentive = incentives.get(item.get("backorder_id"))
        item["incentive"] = incentive_dict(incentive) if incentive else None
        items.append(item)
    occurred = stored.get("occurred_at")
    context = {
        "order": order,
        "customer": order.customer,
        "items": items,
        "data": stored.get("data", {}),
        "shipping_now": stored.get("shipping_now", []),
        "occurred_at": datetime.fromisoformat(occurred) if occurred else notification.created_at,
        "status_url": order_status_url(order),
    }
    if notification.event == "eta_digest":
        context["orders"] = _digest_orders(stored.get("order_ids", []), items)
    return context


def _digest_orders(order_ids: list[int], items: list[dict]) -> list[dict[str, Any]]:
    """An ETA digest's orders, in its order: each with its number, its status page and its moved items."""
    from orders.models import Order

    orders = Order.objects.in_bulk(order_ids)
    return [
        {
            "number": orders[order_id].number,
            "status_url": order_status_url(orders[order_id]),
            "items": [item for item in items if item.get("order_id") == order_id],
        }
        for order_id in order_ids
        if order_id in orders
    ]


RENDERED_FIELDS = ["subject", "body_text", "body_html", "payload", "rendered_at"]


def notification_render(notification) -> None:
    """Fill subject/text/HTML (e-mail) or payload (webhook) once; the caller saves ``RENDERED_FIELDS``."""
    if notification.rendered_at is not None:
        return
    context = render_context(notification)
    if notification.channel == "email":
        notification.subject, notification.body_text, notification.body_html = render_email(
            event=notification.event, context=context
        )
    else:
        notification.payload = build_payload(
            event=notification.event, dedupe_key=notification.dedupe_key, context=context
        )
    notification.rendered_at = timezone.now()
