"""Suppliers, their catalogue, purchase orders and receipts. Every write is one transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.actors import real_user
from core.errors import InvalidInput, InvalidTransition
from inventory.exceptions import UnknownSku, UnknownWarehouse
from inventory.models import Product, StockMovement, Warehouse

from .exceptions import NoPreferredSupplier, NothingToOrder, OverReceipt, UnknownSupplier
from .models import (
    ExpectedDateRevision,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Supplier,
    SupplierProduct,
)

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


def _eta_request(product_ids) -> None:
    from backorders.services import eta_request

    eta_request(product_ids=product_ids)


def purchase_order_transition(*, purchase_order: PurchaseOrder, status: str) -> None:
    """The one place a purchase order's status changes; sets the matching timestamp."""
    if status not in PO_TRANSITIONS[purchase_order.status]:
        raise InvalidTransition(
            f"Purchase order {purchase_order.number} cannot go from {purchase_order.status} to {status}.",
            details={"from": purchase_order.status, "to": status},
        )
    now = timezone.now()
    purchase_order.status = status
    if status == P.SENT:
        purchase_order.sent_at = now
    elif status == P.RECEIVED:
        purchase_order.received_at = now
    elif status == P.CANCELLED:
        purchase_order.cancelled_at = now


# --- suppliers --------------------------------------------------------------------------------


def supplier_create(*, code: str, name: str, email: str = "") -> Supplier:
    if Supplier.objects.filter(code=code).exists():
        raise InvalidInput(f"A supplier with code {code!r} already exists.", details={"code": code})
    try:
        with transaction.atomic():
            return Supplier.objects.create(code=code, name=name, email=email)
    except IntegrityError as exc:
        raise InvalidInput(f"A supplier with code {code!r} already exists.", details={"code": code}) from exc


def _supplier(code: str) -> Supplier:
    supplier = Supplier.objects.filter(code=code).first()
    if supplier is None:
        raise UnknownSupplier(f"Unknown supplier {code!r}.", details={"supplier": code})
    return supplier


def _product(sku: str) -> Product:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise UnknownSku(f"Unknown SKU {sku!r}.", details={"skus": [sku]})
    return product


@transaction.atomic
def supplier_product_upsert(
    *,
    supplier_code: str,
    sku: str,
    lead_time_days: int = 14,
    min_order_quantity: int = 1,
    pack_size: int = 1,
    unit_cost: Decimal = Decimal("0"),
    preferred: bool = False,
    supplier_sku: str = "",
) -> SupplierProduct:
    """Create or update what a supplier sells us. Marking it preferred retires the product's other preferred one."""
    supplier = _supplier(supplier_code)
    product = _product(sku)
    if min_order_quantity < 1 or pack_size < 1 or lead_time_days < 0 or unit_cost < 0:
        raise InvalidInput("Lead time, minimum order quantity, pack size and cost must be positive.")
    if preferred:
        SupplierProduct.objects.filter(product=product, preferred=True).exclude(supplier=supplier).update(
            preferred=False
        )
    item, _ = SupplierProduct.objects.update_or_create(
        supplier=supplier,
        product=product,
        defaults={
            "lead_time_days": lead_time_days,
            "min_order_quantity": min_order_quantity,
            "pack_size": pack_size,
            "unit_cost": unit_cost,
            "preferred": preferred,
            "supplier_sku": supplier_sku,
        },
    )
    _eta_request([product.pk])  # a lead-time estimate may change
    return item


# --- purchase orders --------------------------------------------------------------------------


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
    user=None,
) -> PurchaseOrder:
    """A draft purchase order (or already sent with ``send=True``). Only sent orders count as incoming supply."""
    supplier = _supplier(supplier_code)
    warehouse = Warehouse.objects.filter(code=warehouse_code).first()
    if warehouse is None:
        raise UnknownWarehouse(f"Unknown warehouse {warehouse_code!r}.", details={"warehouse": warehouse_code})
    if not lines:
        raise InvalidInput("A purchase order needs at least one line.", details={"lines": []})
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
    purchase_order = PurchaseOrder.objects.create(
        number=_new_po_number(),
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
    user=None,
) -> PurchaseOrder:
    """Move expected dates; each changed line keeps a revision row (when, old → new, why).

    ``expected_date`` moves the order and every line still to come; ``lines`` (SKU → date) moves single lines.
    """
    if not reason or not reason.strip():
        raise InvalidInput("Say why the date moves (reason is required).", details={"reason": reason})
    lines = lines or {}
    if expected_date is None and not lines:
        raise InvalidInput("Give an expected_date or line dates to revise.")
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
    ExpectedDateRevision.objects.bulk_create(revisions)
    if expected_date is not None and expected_date != purchase_order.expected_date:
        purchase_order.expected_date = expected_date
        purchase_order.save(update_fields=["expected_date"])
    _eta_request(changed_products)
    return purchase_order


@transaction.atomic
def purchase_order_receive(*, purchase_order: PurchaseOrder, lines: list[ReceiptLineRequest], user=None) -> Receipt:
    """Receive some or all units of a sent purchase order into its warehouse.

    Writes a receipt, RECEIPT movements on the ledger, and after commit offers the units to the backorder
    queue. Receiving more than is still to come on a line is refused (``over_receipt``).
    """
    from backorders.services import allocation_request
    from inventory.counters import stock_movement_apply
    from inventory.locks import stock_items_lock
    from inventory.services import stock_item_get_or_create

    if not lines:
        raise InvalidInput("A receipt needs at least one line.", details={"lines": []})
    skus = [line.sku for line in lines]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise InvalidInput("Each SKU may appear once per receipt.", details={"skus": duplicates})
    if any(line.quantity <= 0 for line in lines):
        raise InvalidInput("Received quantities must be positive.")
    plan = {
        line.product.sku: line
        for line in PurchaseOrderLine.objects.filter(purchase_order=purchase_order).select_related("product")
    }
    unknown = [sku for sku in skus if sku not in plan]
    if unknown:
        raise UnknownSku(f"Not on {purchase_order.number}: {', '.join(unknown)}.", details={"skus": unknown})
    # Lock order: stock items first (as every stock path does), then the purchase order and its lines.
    items = {
        plan[sku].product_id: stock_item_get_or_create(product=plan[sku].product, warehouse=purchase_order.warehouse)
        for sku in skus
    }
    locked = {item.pk: item for item in stock_items_lock(item.pk for item in items.values())}
    purchase_order = _lock_po(purchase_order)
    if purchase_order.status not in PurchaseOrder.INCOMING:
        raise InvalidTransition(
            f"Purchase order {purchase_order.number} is {purchase_order.status}; only sent orders can be received.",
            details={"status": purchase_order.status},
        )
    po_lines = {
        line.pk: line
        for line in PurchaseOrderLine.objects.select_for_update(no_key=True)
        .filter(purchase_order=purchase_order)
        .order_by("pk")
    }
    over = []
    for request in lines:
        line = po_lines[plan[request.sku].pk]
        if request.quantity > line.quantity_outstanding:
            over.append(
                {
                    "sku": request.sku,
                    "ordered": line.quantity_ordered,
                    "received": line.quantity_received,
                    "outstanding": line.quantity_outstanding,
                    "quantity": request.quantity,
                }  # fmt: skip
            )
    if over:
        names = ", ".join(f"{o['sku']} ({o['quantity']} > {o['outstanding']} outstanding)" for o in over)
        raise OverReceipt(f"Cannot receive more than is still to come: {names}.", details={"lines": over})

    receipt = Receipt.objects.create(purchase_order=purchase_order, created_by=real_user(user))
    ReceiptLine.objects.bulk_create(
        [ReceiptLine(receipt=receipt, purchase_order_line_id=plan[r.sku].pk, quantity=r.quantity) for r in lines]
    )
    for request in sorted(lines, key=lambda r: plan[r.sku].pk):
        line = po_lines[plan[request.sku].pk]
        PurchaseOrderLine.objects.filter(pk=line.pk).update(quantity_received=F("quantity_received") + request.quantity)
        line.quantity_received += request.quantity
        stock_movement_apply(
            stock_item=locked[items[line.product_id].pk],
            kind=StockMovement.Kind.RECEIPT,
            quantity=request.quantity,
            reason=f"Receipt {receipt.pk}",
            reference=purchase_order.number,
            user=user,
        )
    done = all(line.quantity_outstanding == 0 for line in po_lines.values())
    purchase_order_transition(purchase_order=purchase_order, status=P.RECEIVED if done else P.PARTIALLY_RECEIVED)
    purchase_order.save(update_fields=["status", "received_at"])
    allocation_request(stock_item_ids=locked)
    _eta_request(items)
    return receipt


# --- shortages --------------------------------------------------------------------------------


@transaction.atomic
def purchase_order_draft_for_shortage(*, product: Product, user=None) -> PurchaseOrder:
    """Draft a purchase order to the preferred supplier for the product's uncovered demand (suggested quantity)."""
    from .selectors import shortages

    rows = shortages(product_ids=[product.pk])
    row = rows[0] if rows else None
    if row is None or not row["uncovered"]:
        raise NothingToOrder(
            f"{product.sku} has no uncovered demand: stock and open purchase orders cover every waiting unit.",
            details={"sku": product.sku},
        )
    _preferred_supplier_required(product=product, row=row)
    return _purchase_order_draft(
        product=product,
        row=row,
        notes=f"Drafted from the shortage list: {row['uncovered']} unit(s) uncovered.",
        user=user,
    )


@transaction.atomic
def purchase_order_draft_for_plan(*, product: Product, service_level: float = 0.95, user=None) -> PurchaseOrder:
    """Draft a purchase order to the preferred supplier for what the replenishment plan says to order now."""
    from .planning import replenishment_plan

    rows = replenishment_plan(skus=[product.sku], service_level=service_level)
    row = rows[0] if rows else None
    if row is None:
        raise NothingToOrder(f"{product.sku} is no longer sold.", details={"sku": product.sku})
    _preferred_supplier_required(product=product, row=row)
    if not row["reorder_now"]:
        raise NothingToOrder(
            f"{product.sku} is above its reorder point ({row['inventory_position']} > {row['reorder_point']}).",
            details={"sku": product.sku, "position": row["inventory_position"], "reorder_point": row["reorder_point"]},
        )
    notes = (
        f"Drafted from the replenishment plan: position {row['inventory_position']}, reorder point "
        f"{row['reorder_point']}, stockout risk {round(100 * row['stockout_risk'])} %."
    )
    return _purchase_order_draft(product=product, row=row, notes=notes, user=user)


def _preferred_supplier_required(*, product: Product, row: dict) -> None:
    if not row["supplier"]:
        raise NoPreferredSupplier(
            f"{product.sku} has no preferred supplier: mark one in the supplier catalogue first.",
            details={"sku": product.sku},
        )


def _purchase_order_draft(*, product: Product, row: dict, notes: str, user) -> PurchaseOrder:
    """A draft PO for ``row["suggested_quantity"]`` to ``row["supplier"]``, due after its lead time."""
    warehouse = (
        Warehouse.objects.filter(stock_items__product=product, is_active=True).order_by("pk").first()
        or Warehouse.objects.filter(is_active=True).order_by("pk").first()
    )
    if warehouse is None:
        raise InvalidInput("There is no active warehouse to receive into.")
    expected = timezone.localdate() + timedelta(days=row["lead_time_days"])
    return purchase_order_create(
        supplier_code=row["supplier"],
        warehouse_code=warehouse.code,
        expected_date=expected,
        lines=[PurchaseOrderLineRequest(sku=product.sku, quantity=row["suggested_quantity"])],
        notes=notes,
        user=user,
    )
