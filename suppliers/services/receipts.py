"""Receiving a purchase order: units into stock through the ledger, then offered to the backorder queue."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from core.actors import real_user
from core.errors import InvalidInput, InvalidTransition
from inventory.counters import stock_movement_apply
from inventory.exceptions import UnknownSku
from inventory.locks import stock_items_lock
from inventory.lots import lots_receive, lots_required_check
from inventory.models import StockItem, StockMovement
from inventory.services import stock_item_get_or_create
from inventory.signals import stock_added

from ..exceptions import OverReceipt
from ..models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
)
from .purchase_orders import P, ReceiptLineRequest, _eta_request, _lock_po, purchase_order_transition


@transaction.atomic
def purchase_order_receive(*, purchase_order: PurchaseOrder, lines: list[ReceiptLineRequest], user=None) -> Receipt:
    """Receive some or all units of a sent purchase order into its warehouse.

    Writes a receipt, RECEIPT movements on the ledger, and after commit offers the units to the backorder
    queue. Receiving more than is still to come on a line is refused (``over_receipt``).
    """

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
    for request in lines:  # before anything is written: a lot-tracked product's units name their lots
        lots_required_check(
            product=plan[request.sku].product, lots=request.lots, quantity=request.quantity, receiving=True
        )
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
        movement = {"kind": StockMovement.Kind.RECEIPT, "reason": f"Receipt {receipt.pk}"}
        movement.update(reference=purchase_order.number, user=user)
        item = locked[items[line.product_id].pk]
        if request.lots:
            lots_receive(stock_item=item, product=plan[request.sku].product, lots=request.lots, **movement)
        else:
            stock_movement_apply(stock_item=item, quantity=request.quantity, **movement)
    done = all(line.quantity_outstanding == 0 for line in po_lines.values())
    purchase_order_transition(purchase_order=purchase_order, status=P.RECEIVED if done else P.PARTIALLY_RECEIVED)
    purchase_order.save(update_fields=["status", "received_at", "updated_at"])  # lines moved: a change
    stock_added.send(sender=StockItem, stock_item_ids=sorted(locked))
    _eta_request(items)
    return receipt
