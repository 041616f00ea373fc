"""What a notification says: the e-mail (subject, text, HTML from templates) and the webhook payload.

Both are rendered once, when the outbox row is written, so the row records exactly what was sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.template.loader import render_to_string


def _plain(value: Any) -> Any:
    """JSON-safe copy of a context value (dates as ISO strings, decimals as strings)."""
    if isinstance(value, dict):
        return {key: _plain(val) for key, val in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(val) for val in value]
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def render_email(*, event: str, context: dict[str, Any]) -> tuple[str, str, str]:
    ctx = {**context, "event": event}
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
        "occurred_at": context["occurred_at"].isoformat(),
        "order": {"id": order.pk, "number": order.number, "status": order.status},
        "customer": {"external_id": context["customer"].external_id},
        "items": _plain(context["items"]),
        "shipping_now": _plain(context.get("shipping_now", [])),
        "data": _plain(context.get("data", {})),
    }
