"""Purchase orders: creation, the status transition map, sending, cancelling and revising expected dates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backorders.services import eta_request
from core.actors import real_user
from core.errors import DateOutOfRange, InvalidInput, InvalidTransition
from core.transitions import status_transition
from inventory.exceptions import UnknownSku, UnknownWarehouse
from inventory.models import Product, Warehouse

from ..models import (
    ExpectedDateRevision,
    PurchaseOrder,
    PurchaseOrderLine,
)
from .catalogue import _supplier

P = PurchaseOrder.Status

PO_TRANSITIONS: dict[str, set[str]] = {
    P.DRAFT: {P.SENT, P.CANCELLED},
    P.SENT: {P.PARTIALLY_RECEIVED, P.RECEIVED, P.CANCELLED},
    P.PARTIALLY_RECEIVED: {P.PARTIALLY_RECEIVED, P.RECEIVED, P.CANCELLED},
    P.RECEIVED: set(),
    P.CANCELLED: set(),
}


@dataclass(frozen=True)
class PurchaseOrderLineRequest:
    sku: str
    quantity: int
    expected_date: date | None = None


@dataclass(frozen=True)
class ReceiptLineRequest:
    sku: str
    quantity: int
    lots: list | None = None  # inventory.lots.LotInput: required for a lot-tracked product (docs/lots.md)


def _eta_request(product_ids) -> None:
    eta_request(product_ids=product_ids)


def purchase_order_transition(*, purchase_order: PurchaseOrder, status: str) -> None:
    """The one place a purchase order's status changes; sets the matching timestamp."""
    status_transition(
        purchase_order,
        status=status,
        allowed=PO_TRANSITIONS,
        stamps={P.SENT: "sent_at", P.RECEIVED: "received_at", P.CANCELLED: "cancelled_at"},
        label=f"Purchase order {purchase_order.number}",
    )


# --- purchase orders --------------------------------------------------------------------------


def _expected_date_check(value: date, *, field: str) -> None:
    """A supplier's date lies between today and the planning horizon (``OMS["PO_HORIZON_DAYS"]``): a date in the past
    would advertise a restock today, one in year 9999 would be promised to customers."""
    today = timezone.localdate()
    horizon = today + timedelta(days=settings.OMS["PO_HORIZON_DAYS"])
    if not today <= value <= horizon:
        raise DateOutOfRange(
            f"{field} must be between today ({today.isoformat()}) and {horizon.isoformat()}, not {value.isoformat()}.",
            details={"field": field, "min": today.isoformat(), "max": horizon.isoformat(), "value": value.isoformat()},
        )


def _new_po_number() -> str:
    return f"PO-{timezone.now():%Y%m%d}-{secrets.token_hex(3).upper()}"


@transaction.atomic
def purchase_order_create(
    *,
    supplier_code: str,
    warehouse_code: str,
    expected_date: date,
    lines: list[PurchaseOrderLineRequest],
    notes: str = "",
    expedite: bool = False,
    send: bool = False,
    number: str | None = None,
    user=None,
) -> PurchaseOrder:
    """A draft purchase order (or already sent with ``send=True``). Only sent orders count as incoming supply.
    ``number``: the ERP's number (imports); by default a new one."""
    supplier = _supplier(supplier_code)
    warehouse = Warehouse.objects.filter(code=warehouse_code).first()
    if warehouse is None:
        raise UnknownWarehouse(f"Unknown warehouse {warehouse_code!r}.", details={"warehouse": warehouse_code})
    if not lines:
        raise InvalidInput("A purchase order needs at least one line.", details={"lines": []})
    _expected_date_check(expected_date, field="expected_date")
    for line in lines:
        if line.expected_date is not None:
            _expected_date_check(line.expected_date, field=f"lines[{line.sku}].expected_date")
    skus = [line.sku for line in lines]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise InvalidInput("Each SKU may appear once per purchase order.", details={"skus": duplicates})
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise UnknownSku(f"Unknown SKU: {', '.join(unknown)}.", details={"skus": unknown})
    if any(line.quantity <= 0 for line in lines):
        raise InvalidInput("Quantities must be positive.", details={"lines": [line.sku for line in lines]})
    if number is not None and PurchaseOrder.objects.filter(number=number).exists():
        raise InvalidInput(f"A purchase order {number!r} already exists.", details={"number": number})
    purchase_order = PurchaseOrder.objects.create(
        number=number or _new_po_number(),
        supplier=supplier,
        warehouse=warehouse,
        order_date=timezone.localdate(),
        expected_date=expected_date,
        expedite=expedite,
        notes=notes,
        created_by=real_user(user),
    )
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(
                purchase_order=purchase_order,
                product=products[line.sku],
                quantity_ordered=line.quantity,
                expected_date=line.expected_date or expected_date,
                original_expected_date=line.expected_date or expected_date,
            )
            for line in lines
        ]
    )
    if send:
        purchase_order_transition(purchase_order=purchase_order, status=P.SENT)
        purchase_order.save(update_fields=["status", "sent_at"])
        _eta_request(p.pk for p in products.values())
    return purchase_order


def _lock_po(purchase_order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update(no_key=True).get(pk=purchase_order.pk)


def _po_product_ids(purchase_order: PurchaseOrder) -> list[int]:
    return list(purchase_order.lines.values_list("product_id", flat=True))


@transaction.atomic
def purchase_order_send(*, purchase_order: PurchaseOrder, user=None) -> PurchaseOrder:
    purchase_order = _lock_po(purchase_order)
    purchase_order_transition(purchase_order=purchase_order, status=P.SENT)
    purchase_order.save(update_fields=["status", "sent_at"])
    _eta_request(_po_product_ids(purchase_order))
    return purchase_order


@transaction.atomic
def purchase_order_cancel(*, purchase_order: PurchaseOrder, reason: str = "", user=None) -> PurchaseOrder:
    """Cancel what is still to come (units already received stay received)."""
    purchase_order = _lock_po(purchase_order)
    purchase_order_transition(purchase_order=purchase_order, status=P.CANCELLED)
    if reason:
        purchase_order.notes = (purchase_order.notes + "\n" if purchase_order.notes else "") + f"Cancelled: {reason}"
    purchase_order.save(update_fields=["status", "cancelled_at", "notes"])
    _eta_request(_po_product_ids(purchase_order))
    return purchase_order


@transaction.atomic
def purchase_order_revise_dates(
    *,
    purchase_order: PurchaseOrder,
    reason: str,
    expected_date: date | None = None,
    lines: dict[str, date] | None = None,
    expedite_cost: Decimal = Decimal("0"),
    user=None,
) -> PurchaseOrder:
    """Move expected dates; each changed line keeps a revision row (when, old → new, why, what it cost).

    ``expected_date`` moves the order and every line still to come; ``lines`` (SKU → date) moves single lines.
    ``expedite_cost`` (what pulling the date in costs) is split over the revised lines by units still to come.
    """
    if not reason or not reason.strip():
        raise InvalidInput("Say why the date moves (reason is required).", details={"reason": reason})
    if expedite_cost < 0:
        raise InvalidInput("An expedite cost cannot be negative.", details={"expedite_cost": str(expedite_cost)})
    lines = lines or {}
    if expected_date is None and not lines:
        raise InvalidInput("Give an expected_date or line dates to revise.")
    if expected_date is not None:
        _expected_date_check(expected_date, field="expected_date")
    for sku, line_date in lines.items():
        _expected_date_check(line_date, field=f"lines[{sku}]")
    purchase_order = _lock_po(purchase_order)
    if purchase_order.status in (P.RECEIVED, P.CANCELLED):
        raise InvalidTransition(
            f"Purchase order {purchase_order.number} is {purchase_order.status}; its dates can no longer move.",
            details={"status": purchase_order.status},
        )
    po_lines = list(
        PurchaseOrderLine.objects.select_for_update(no_key=True, of=("self",))
        .filter(purchase_order=purchase_order)
        .select_related("product")
        .order_by("pk")
    )
    by_sku = {line.product.sku: line for line in po_lines}
    unknown = sorted(set(lines) - set(by_sku))
    if unknown:
        raise UnknownSku(f"Not on {purchase_order.number}: {', '.join(unknown)}.", details={"skus": unknown})
    revisions = []
    changed_products = set()
    for line in po_lines:
        new = lines.get(line.product.sku) or (expected_date if line.quantity_outstanding > 0 else None)
        if new is None or new == line.expected_date:
            continue
        revisions.append(
            ExpectedDateRevision(
                line=line, old_date=line.expected_date, new_date=new, reason=reason, created_by=real_user(user)
            )
        )
        line.expected_date = new
        line.save(update_fields=["expected_date"])
        changed_products.add(line.product_id)
    _split_expedite_cost(revisions, Decimal(expedite_cost))
    ExpectedDateRevision.objects.bulk_create(revisions)
    if expected_date is not None and expected_date != purchase_order.expected_date:
        purchase_order.expected_date = expected_date
        purchase_order.save(update_fields=["expected_date", "updated_at"])
    elif revisions:  # only line dates moved: the order changed all the same (``updated_since`` pollers)
        purchase_order.save(update_fields=["updated_at"])
    _eta_request(changed_products)
    return purchase_order


@transaction.atomic
def purchase_order_confirm(
    *, purchase_order: PurchaseOrder, reason: str, lines: dict[str, date] | None = None, expected_date=None, user=None
) -> PurchaseOrder:
    """The supplier confirmed the order (an inbound event): a draft counts as sent from now on, the confirmation is
    stamped, and dates the supplier confirmed differently move through ``purchase_order_revise_dates`` (revision
    rows, ETAs recomputed, customers told)."""
    purchase_order = _lock_po(purchase_order)
    if purchase_order.status in (P.RECEIVED, P.CANCELLED):
        raise InvalidTransition(
            f"Purchase order {purchase_order.number} is {purchase_order.status}; it cannot be confirmed.",
            details={"status": purchase_order.status},
        )
    if purchase_order.status == P.DRAFT:
        purchase_order_transition(purchase_order=purchase_order, status=P.SENT)
        purchase_order.save(update_fields=["status", "sent_at", "updated_at"])
        _eta_request(_po_product_ids(purchase_order))
    if lines or (expected_date is not None and expected_date != purchase_order.expected_date):
        purchase_order = purchase_order_revise_dates(
            purchase_order=purchase_order, reason=reason, expected_date=expected_date, lines=lines, user=user
        )
    if purchase_order.confirmed_at is None:
        purchase_order.confirmed_at = timezone.now()
        purchase_order.save(update_fields=["confirmed_at", "updated_at"])
    return purchase_order


def _split_expedite_cost(revisions: list, cost: Decimal) -> None:
    """Spread the cost over the revisions by each line's units still to come (cents exact: the rest on the first)."""
    if not revisions or not cost:
        return
    weights = [max(1, revision.line.quantity_outstanding) for revision in revisions]
    total = sum(weights)
    shares = [(cost * weight / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN) for weight in weights]
    shares[0] += cost - sum(shares)
    for revision, share in zip(revisions, shares, strict=True):
        revision.expedite_cost = share
