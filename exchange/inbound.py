"""Signed inbound events from a supplier or an ERP: verify, deduplicate, act through the same services as staff.

A request carries ``X-OMS-Timestamp`` (Unix seconds) and ``X-OMS-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<raw body>`` with the source's secret. A timestamp more than ``OMS["INBOUND_TOLERANCE_SECONDS"]`` away
from now is refused (a captured request cannot be replayed later); the event id makes a retry harmless: the first
answer is kept with the event and a replay gets it again, changing nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import InvalidInput, NotFoundError
from inventory.services import StockCount, stock_counts_apply
from suppliers.exceptions import UnknownSupplier
from suppliers.models import PurchaseOrder, PurchaseOrderLine, Supplier
from suppliers.services import purchase_order_confirm, purchase_order_revise_dates

from .exceptions import EventNotAllowed, InvalidSignature, StaleTimestamp, UnknownEventType
from .models import InboundEvent, InboundSource

SIGNATURE_PREFIX = "sha256="
EVENT_TYPES = ("purchase_order.confirmed", "purchase_order.date_changed", "shipment_notice", "stock.count")


def inbound_signature(secret: str, timestamp: str, body: bytes) -> str:
    """What a sender puts in ``X-OMS-Signature`` (docs/import.md shows it in Python and shell)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def inbound_source_verify(*, code: str, timestamp: str | None, signature: str | None, body: bytes) -> InboundSource:
    """The source that signed this request, or ``InvalidSignature`` / ``StaleTimestamp`` (both 401). An unknown or
    switched-off source gets the same answer as a bad signature (nothing tells which sources exist)."""
    source = InboundSource.objects.filter(code=code[:50], is_active=True).select_related("supplier").first()
    if source is None or not signature or not timestamp:
        raise InvalidSignature("Sign the request: X-OMS-Timestamp and X-OMS-Signature with this source's secret.")
    expected = inbound_signature(source.secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise InvalidSignature("The signature does not match this source's secret.")
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise StaleTimestamp("X-OMS-Timestamp must be Unix seconds.") from exc
    tolerance = settings.OMS["INBOUND_TOLERANCE_SECONDS"]
    if abs(time.time() - sent) > tolerance:
        raise StaleTimestamp(f"The timestamp is more than {tolerance} seconds from now; sign the request again.")
    return source


def inbound_source_create(*, code: str, name: str, supplier_code: str | None = None) -> tuple[InboundSource, str]:
    """A new source and its secret (shown once to whoever set it up)."""
    if InboundSource.objects.filter(code=code).exists():
        raise InvalidInput(f"An inbound source {code!r} already exists.", details={"code": code})
    supplier = Supplier.objects.filter(code=supplier_code).first() if supplier_code else None
    if supplier_code and supplier is None:
        raise UnknownSupplier(f"Unknown supplier {supplier_code!r}.", details={"supplier": supplier_code})
    secret = secrets.token_urlsafe(32)
    source = InboundSource.objects.create(code=code, name=name, supplier=supplier, secret=secret)
    return source, secret


def inbound_source_rotate_secret(*, source: InboundSource) -> str:
    secret = secrets.token_urlsafe(32)
    InboundSource.objects.filter(pk=source.pk).update(secret=secret)
    source.secret = secret
    return secret


def inbound_event_process(
    *, source: InboundSource, event_id: str, event_type: str, data: dict, payload: dict | None = None
) -> tuple[InboundEvent, bool]:
    """Act on one verified event, once. Returns the event row and whether it was a replay (then nothing changed).

    The event row and the change are one transaction: a refused event leaves no row (the sender may correct it and
    send it again with the same id), and two deliveries of one id at once cannot both act (the second waits on the
    unique key, then gets the first one's answer)."""
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(f"Unknown event type {event_type!r}.", details={"allowed": list(EVENT_TYPES)})
    existing = InboundEvent.objects.filter(source=source, event_id=event_id).first()
    if existing is not None:
        return existing, True
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=source, event_id=event_id, event_type=event_type, payload=payload if payload is not None else {}
            )
            event.result = HANDLERS[event_type](source=source, data=data, event_id=event_id)
            event.save(update_fields=["result", "updated_at"])
    except IntegrityError:
        existing = InboundEvent.objects.filter(source=source, event_id=event_id).first()
        if existing is None:
            raise
        return existing, True
    return event, False


def _purchase_order(source: InboundSource, number: str) -> PurchaseOrder:
    queryset = PurchaseOrder.objects.filter(number=number)
    if source.supplier_id is not None:
        queryset = queryset.filter(supplier_id=source.supplier_id)  # a supplier reaches only its own orders
    purchase_order = queryset.first()
    if purchase_order is None:
        raise NotFoundError(f"No purchase order {number[:40]!r} for this source.", details={"number": number[:40]})
    return purchase_order


def _dates(data: dict) -> tuple[date | None, dict[str, date]]:
    return data.get("expected_date"), {line["sku"]: line["expected_date"] for line in data.get("lines") or []}


def _confirmed(*, source, data, event_id):
    purchase_order = _purchase_order(source, data["number"])
    expected_date, lines = _dates(data)
    purchase_order = purchase_order_confirm(
        purchase_order=purchase_order,
        reason=f"Confirmed by {source.code} (event {event_id})",
        expected_date=expected_date,
        lines=lines,
    )
    return {
        "purchase_order": purchase_order.number,
        "status": purchase_order.status,
        "expected_date": purchase_order.expected_date.isoformat(),
    }


def _date_changed(*, source, data, event_id):
    purchase_order = _purchase_order(source, data["number"])
    expected_date, lines = _dates(data)
    reason = (data.get("reason") or "").strip() or "date changed"
    purchase_order = purchase_order_revise_dates(
        purchase_order=purchase_order,
        reason=f"{source.code}: {reason} (event {event_id})"[:500],
        expected_date=expected_date,
        lines=lines,
    )
    return {"purchase_order": purchase_order.number, "expected_date": purchase_order.expected_date.isoformat()}


def _shipment_notice(*, source, data, event_id):
    """Units in transit with an arrival date: the dated supply of their purchase-order lines. A line the notice covers
    whole arrives on that date; a line it covers in part keeps the later of its date and the arrival (the rest is
    never promised earlier than known)."""
    purchase_order = _purchase_order(source, data["number"])
    arrival: date = data["arrival_date"]
    on_order = {
        line.product.sku: line
        for line in PurchaseOrderLine.objects.filter(purchase_order=purchase_order).select_related("product")
    }
    moves, report = {}, []
    for item in data["lines"]:
        line = on_order.get(item["sku"])
        if line is None:
            raise InvalidInput(f"{item['sku']} is not on {purchase_order.number}.", details={"sku": item["sku"]})
        if item["quantity"] > line.quantity_outstanding:
            raise InvalidInput(
                f"{item['quantity']} of {item['sku']} in transit, but only {line.quantity_outstanding} are still to "
                f"come on {purchase_order.number}.",
                details={"sku": item["sku"], "outstanding": line.quantity_outstanding},
            )
        whole = item["quantity"] == line.quantity_outstanding
        new_date = arrival if whole else max(arrival, line.expected_date)
        if new_date != line.expected_date:
            moves[item["sku"]] = new_date
        report.append({"sku": item["sku"], "quantity": item["quantity"], "expected_date": new_date.isoformat()})
    if moves:
        reference = (data.get("reference") or event_id)[:100]
        purchase_order_revise_dates(
            purchase_order=purchase_order,
            reason=f"Shipment notice {reference} from {source.code}: in transit, arriving {arrival.isoformat()}",
            lines=moves,
        )
    return {"purchase_order": purchase_order.number, "lines": report}


def _stock_count(*, source, data, event_id):
    if source.supplier_id is not None:
        raise EventNotAllowed("A supplier's source may not send stock counts; an ERP's may.")
    result = stock_counts_apply(
        counts=[StockCount(c["sku"], data["warehouse"], c["counted"]) for c in data["counts"]],
        reason=f"Stock count from {source.code}",
        reference=event_id[:100],
    )
    return {"moved": [{"sku": sku, "warehouse": wh, "quantity": q} for (sku, wh), q in result.moved.items()]}


HANDLERS = {
    "purchase_order.confirmed": _confirmed,
    "purchase_order.date_changed": _date_changed,
    "shipment_notice": _shipment_notice,
    "stock.count": _stock_count,
}
