"""A backorder's history for the staff page, in words: stored values (``purchase_order``, ``high``) become the labels
staff read ("from purchase order PO-…", "High")."""

from __future__ import annotations

from datetime import date

from django.utils import dateformat, timezone

from backorders.models import Backorder, BackorderEvent
from orders.models import Order


def _day(value: str | None) -> str | None:
    if not value:
        return None
    day = date.fromisoformat(value)
    return dateformat.format(day, "j M" if day.year == timezone.localdate().year else "j M Y")


def eta_change_text(data: dict, *, po_number: str | None = None) -> str:
    """ "Expected 9 Dec from purchase order PO-… (was 2 Dec)" from an ``eta_changed`` event's data."""
    new, old, basis = _day(data.get("new")), _day(data.get("old")), data.get("basis")
    if not new or basis == Backorder.EtaBasis.NONE:
        text = "No expected date yet: no purchase order or supplier covers it"
    elif basis == Backorder.EtaBasis.PURCHASE_ORDER:
        text = f"Expected {new} from " + (f"purchase order {po_number}" if po_number else "an incoming purchase order")
    elif basis == Backorder.EtaBasis.TRANSFER:
        text = f"Expected {new} from a transfer between warehouses"
    elif basis == Backorder.EtaBasis.PURCHASE_ORDER_HISTORY:
        text = f"Promised {new}: " + (f"purchase order {po_number}" if po_number else "an incoming purchase order")
        text += " and the supplier's measured delays"
    elif basis == Backorder.EtaBasis.LEAD_TIME:
        text = f"Expected {new}, estimated from the supplier's lead time"
    elif basis == Backorder.EtaBasis.LEAD_TIME_HISTORY:
        text = f"Promised {new}, estimated from the supplier's measured lead time"
    else:
        text = f"Expected {new}"
    return f"{text} (was {old})." if old else f"{text}."


def priority_change_text(data: dict) -> str:
    labels = dict(Order.Priority.choices)
    old, new = labels.get(data.get("old"), data.get("old")), labels.get(data.get("new"), data.get("new"))
    reason = data.get("reason")
    return f"Priority {old} → {new}" + (f": {reason}" if reason else ".")


def event_text(event: BackorderEvent, *, po_number: str | None = None) -> str:
    if event.kind == BackorderEvent.Kind.ETA_CHANGED and event.data:
        return eta_change_text(event.data, po_number=po_number)
    if event.kind == BackorderEvent.Kind.PRIORITY_CHANGED and event.data.get("new"):
        return priority_change_text(event.data)
    return event.message


def backorder_timeline(backorder: Backorder, events, notifications) -> list[dict]:
    """Events and customer notifications, oldest first. The purchase order of the current ETA is named on the
    latest date change that promised it (earlier events store no purchase-order line)."""
    events = list(events)
    current_po = None
    if backorder.eta_purchase_order_line_id:
        current_po = backorder.eta_purchase_order_line.purchase_order.number
    latest_eta = next((e for e in reversed(events) if e.kind == BackorderEvent.Kind.ETA_CHANGED), None)
    timeline = []
    for e in events:
        po_number = None
        if (
            e is latest_eta
            and current_po
            and e.data.get("basis") == backorder.eta_basis
            and e.data.get("new") == (backorder.eta.isoformat() if backorder.eta else None)
        ):
            po_number = current_po
        timeline.append(
            {
                "at": e.created_at,
                "kind": e.get_kind_display(),
                "css": e.kind,
                "text": event_text(e, po_number=po_number),
                "actor": e.actor,
            }
        )
    for n in notifications:
        timeline.append(
            {
                "at": n.created_at,
                "kind": f"Notification · {n.get_channel_display()}",
                "css": f"notification {n.status}",
                "text": f"{n.get_event_display()} — {n.subject or n.recipient} ({n.get_status_display()})",
                "actor": "outbox",
            }
        )
    timeline.sort(key=lambda item: item["at"])
    return timeline
