"""Cancelling: an order, some lines or units of them, a backorder, and the waiting units of a product that can no
longer be backordered. Waiting units go first, then reserved ones, which return to the pool and are offered to the
backorder queue after commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from backorders.exceptions import BackorderClosed
from backorders.models import Backorder
from backorders.services import allocation_request, backorder_cancel_units
from core.errors import InvalidInput
from inventory.counters import stock_release
from orders.exceptions import DuplicateSku, NothingToCancel, OrderClosed
from orders.locks import order_lock_with_stock
from orders.lots import lot_allocations_take
from orders.models import Allocation, Order, OrderLine
from orders.services import orders_status_refresh


@dataclass(frozen=True)
class CancelRequest:
    sku: str
    quantity: int | None = None  # None: every unit not yet shipped


@transaction.atomic
def order_cancel(
    *,
    order: Order,
    lines: list[CancelRequest] | None = None,
    reason: str = "",
    user=None,
    waiting_only: bool = False,
) -> Order:
    """Cancel the whole order or some lines (or units of them).

    Units still waiting for stock are cancelled first, then reserved units, which go back to the pool
    and are offered to the backorder queue after commit. With ``waiting_only`` (the customer's status page, the
    terms' auto-cancel) only waiting units may go, checked under the locks: reserved units are never touched.
    """
    order, order_lines = order_lock_with_stock(order)
    if order.status in (Order.Status.CANCELLED, Order.Status.SHIPPED):
        raise OrderClosed(f"Order {order.number} is {order.status} and cannot be cancelled.")
    by_sku = {line.product.sku: line for line in order_lines}
    if lines is None:
        targets = [(line, line.quantity_open) for line in order_lines if line.quantity_open]
    else:
        targets = []
        seen = set()
        for request in lines:
            line = by_sku.get(request.sku)
            if line is None:
                raise InvalidInput(
                    f"Order {order.number} has no line for SKU {request.sku!r}.", details={"sku": request.sku}
                )
            if request.sku in seen:
                raise DuplicateSku(f"SKU {request.sku} is listed twice.", details={"skus": [request.sku]})
            seen.add(request.sku)
            cancellable = line.quantity_backordered if waiting_only else line.quantity_open
            quantity = cancellable if request.quantity is None else request.quantity
            if quantity <= 0 or quantity > cancellable:
                raise InvalidInput(
                    f"Can cancel between 1 and {cancellable} of {request.sku}, not {quantity}.",
                    details={"sku": request.sku, "cancellable": cancellable},
                )
            targets.append((line, quantity))
    if not targets:
        raise NothingToCancel(f"Order {order.number} has nothing left to cancel.")

    released_items: set[int] = set()
    for line, quantity in targets:
        from_backorder = min(line.quantity_backordered, quantity)
        to_release = quantity - from_backorder
        if to_release:
            released_items |= _allocations_release(line=line, quantity=to_release)
        backorder_cancel_units(
            order_line=line,
            quantity=from_backorder,
            line_open_after=line.quantity_open - quantity,
            reason=reason,
            user=user,
        )
        OrderLine.objects.filter(pk=line.pk).update(
            quantity_backordered=F("quantity_backordered") - from_backorder,
            quantity_allocated=F("quantity_allocated") - to_release,
            quantity_cancelled=F("quantity_cancelled") + quantity,
        )
    orders_status_refresh(order_ids=[order.pk])
    allocation_request(stock_item_ids=released_items)
    order.refresh_from_db()
    return order


def _allocations_release(*, line: OrderLine, quantity: int) -> set[int]:
    """Give back ``quantity`` reserved units of a line to the pool (newest allocations first)."""
    released: set[int] = set()
    remaining = quantity
    for allocation in Allocation.objects.select_for_update().filter(order_line=line).order_by("-pk"):
        if remaining <= 0:
            break
        q = min(allocation.quantity, remaining)
        if q == allocation.quantity:
            allocation.delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=F("quantity") - q)
        stock_release(quantities={allocation.stock_item_id: q})
        if line.product.is_lot_tracked:  # the lots expiring last go back first
            lot_allocations_take(order_line_id=line.pk, stock_item_id=allocation.stock_item_id, quantity=q)
        released.add(allocation.stock_item_id)
        remaining -= q
    return released


def backorder_cancel(*, backorder: Backorder, reason: str = "", user=None) -> Backorder:
    """Cancel every unit still waiting on this backorder (what is already reserved still ships)."""
    if not backorder.is_waiting:
        raise BackorderClosed(
            f"Backorder {backorder.pk} is {backorder.status}; nothing is waiting to cancel.",
            details={"status": backorder.status},
        )
    order_cancel(
        order=backorder.order,
        lines=[CancelRequest(sku=backorder.product.sku, quantity=backorder.quantity_outstanding)],
        reason=reason,
        user=user,
    )
    backorder.refresh_from_db()
    return backorder


def backorders_cancel_unavailable(*, product) -> None:
    """A product that can no longer be backordered cancels the units still waiting for it."""
    if product.can_backorder:
        return
    waiting = list(
        Backorder.objects.filter(product=product, status__in=Backorder.WAITING).select_related("order", "product")
    )
    for backorder in waiting:
        order_cancel(
            order=backorder.order,
            lines=[CancelRequest(sku=product.sku, quantity=backorder.quantity_outstanding)],
            reason="Product discontinued" if product.status == "discontinued" else "Product no longer backorderable",
        )
