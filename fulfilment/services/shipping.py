"""Shipping an order: everything allocated leaves stock; backorders whose units all shipped are fulfilled."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import F

from backorders.services import backorders_mark_fulfilled
from core.actors import real_user
from inventory.counters import stock_movement_apply
from inventory.models import StockMovement
from orders.exceptions import NothingToShip, OrderClosed, OrderNotReady
from orders.locks import order_lock_with_stock
from orders.models import Allocation, LotAllocation, Order, OrderLine, Shipment, ShipmentLine
from orders.services import customer_lifetime_value_add, orders_status_refresh


@transaction.atomic
def order_ship(*, order: Order, user=None, tracking_reference: str = "") -> Shipment:
    """Ship everything allocated. A ship-complete order ships only once every line is allocated."""
    order, lines = order_lock_with_stock(order)
    if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
        raise OrderClosed(f"Order {order.number} is {order.status}; there is nothing left to ship.")
    if order.ship_policy == Order.ShipPolicy.COMPLETE and any(line.quantity_backordered for line in lines):
        waiting = {line.product.sku: line.quantity_backordered for line in lines if line.quantity_backordered}
        raise OrderNotReady(
            f"Order {order.number} ships complete and still waits for stock: "
            + ", ".join(f"{sku} ({q})" for sku, q in waiting.items())
            + ".",
            details={"waiting": waiting},
        )
    allocations = list(Allocation.objects.select_for_update().filter(order_line__order_id=order.pk).order_by("pk"))
    if not allocations:
        raise NothingToShip(f"Order {order.number} has no allocated stock to ship.")

    shipment = Shipment.objects.create(order=order, created_by=real_user(user), tracking_reference=tracking_reference)
    lines_by_pk = {line.pk: line for line in lines}
    shipped_per_line: dict[int, int] = defaultdict(int)
    shipment_lines = []
    by_lot = _lot_allocations(allocations, lines_by_pk)
    for allocation in allocations:
        item = order.stock_items_locked[allocation.stock_item_id]
        # A lot-tracked product's units leave lot by lot: one ledger row and one shipment line per lot.
        parts = by_lot.get((allocation.order_line_id, allocation.stock_item_id)) or [(None, allocation.quantity)]
        for lot, quantity in parts:
            stock_movement_apply(
                stock_item=item,
                kind=StockMovement.Kind.SHIPMENT,
                quantity=-quantity,
                allocated_delta=-quantity,
                reason="Shipped to customer",
                reference=order.number,
                user=user,
                lot=lot,
            )
            shipment_lines.append(
                ShipmentLine(
                    shipment=shipment,
                    order_line_id=allocation.order_line_id,
                    stock_item_id=allocation.stock_item_id,
                    lot=lot,
                    quantity=quantity,
                )
            )
        shipped_per_line[allocation.order_line_id] += allocation.quantity
    ShipmentLine.objects.bulk_create(shipment_lines)
    if by_lot:
        LotAllocation.objects.filter(order_line_id__in=shipped_per_line).delete()
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
    for line_pk, quantity in shipped_per_line.items():
        OrderLine.objects.filter(pk=line_pk).update(
            quantity_allocated=F("quantity_allocated") - quantity, quantity_shipped=F("quantity_shipped") + quantity
        )
        line = lines_by_pk[line_pk]
        line.quantity_allocated -= quantity
        line.quantity_shipped += quantity
    backorders_mark_fulfilled(order_line_ids=list(shipped_per_line), user=user, shipment=shipment)
    orders_status_refresh(order_ids=[order.pk])
    # Delivered value is what "customer value" means in the allocation policy (customer row last in the lock order).
    customer_lifetime_value_add(
        customer_id=order.customer_id,
        amount=sum(lines_by_pk[pk].unit_price * quantity for pk, quantity in shipped_per_line.items()),
    )
    return shipment


def _lot_allocations(allocations: list[Allocation], lines_by_pk: dict) -> dict[tuple[int, int], list]:
    """(order line id, stock item id) → [(lot, units)] of the lot-tracked allocations among these (no query when the
    order has none: the lines' products say so)."""
    tracked = [a for a in allocations if lines_by_pk[a.order_line_id].product.is_lot_tracked]
    if not tracked:
        return {}
    parts: dict[tuple[int, int], list] = defaultdict(list)
    rows = (
        LotAllocation.objects.filter(order_line_id__in={a.order_line_id for a in tracked})
        .select_related("lot")
        .order_by("lot__expiry_date", "lot_id")
    )
    for row in rows:
        parts[(row.order_line_id, row.lot.stock_item_id)].append((row.lot, row.quantity))
    return parts
