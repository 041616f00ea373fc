"""Alternatives for a backorder: substitutes with stock free now, and switching a backorder to one.

A substitute's stock counts as free only after the units its own backorder queue is owed: the queue
goes first, exactly as when an order is placed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus

from django.db import transaction
from django.db.models import F, Sum

from core.errors import DomainError, InvalidInput, NotFoundError
from inventory.counters import stock_allocate
from inventory.exceptions import InsufficientStock, UnknownSku
from inventory.models import Product, StockItem

from .exceptions import BackorderClosed
from .models import Backorder, BackorderEvent


class NotASubstitute(DomainError):
    code = "not_a_substitute"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    title = "Not a substitute of the backordered product"


@dataclass(frozen=True)
class Alternative:
    product_id: int
    sku: str
    name: str
    unit_price: Decimal
    available: int  # units free now (after what the product's own backorder queue is owed)

    def as_dict(self) -> dict:
        return {"sku": self.sku, "name": self.name, "unit_price": str(self.unit_price), "available": self.available}


def _free_now(product_ids: Iterable[int]) -> dict[int, int]:
    from .selectors import waiting_demand_by_product

    ids = list(set(product_ids))
    if not ids:
        return {}
    free: dict[int, int] = defaultdict(int)
    for row in (
        StockItem.objects.sellable()
        .filter(product_id__in=ids)
        .values("product_id")
        .annotate(free=Sum(F("on_hand") - F("allocated")))
    ):
        free[row["product_id"]] = row["free"] or 0
    owed = waiting_demand_by_product(product_ids=ids)
    return {pid: max(0, free[pid] - owed.get(pid, 0)) for pid in ids}


def alternatives_for_products(product_ids: Iterable[int]) -> dict[int, list[Alternative]]:
    """Active substitutes with free stock, for several products at once (three queries, no N+1)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    through = Product.substitutes.through
    links = list(through.objects.filter(from_product_id__in=ids).values_list("from_product_id", "to_product_id"))
    substitutes = {
        p.pk: p
        for p in Product.objects.filter(pk__in={to for _, to in links}, status=Product.Status.ACTIVE).only(
            "pk", "sku", "name", "unit_price"
        )
    }
    free = _free_now(substitutes)
    result: dict[int, list[Alternative]] = {pid: [] for pid in ids}
    for from_id, to_id in links:
        product = substitutes.get(to_id)
        if product is None or free.get(to_id, 0) <= 0:
            continue
        result[from_id].append(
            Alternative(
                product_id=product.pk,
                sku=product.sku,
                name=product.name,
                unit_price=product.unit_price,
                available=free[to_id],
            )
        )
    for alternatives in result.values():
        alternatives.sort(key=lambda a: a.sku)
    return result


def backorder_alternatives(backorder: Backorder) -> list[Alternative]:
    """Substitutes of the backordered product with stock free now (empty once nothing is waiting)."""
    if not backorder.is_waiting:
        return []
    return alternatives_for_products([backorder.product_id])[backorder.product_id]


@transaction.atomic
def backorder_accept_substitute(*, backorder: Backorder, sku: str, user=None, channel=None):
    """Replace the units still waiting on a backorder with a substitute that is in stock now.

    One transaction: the backorder's waiting units are cancelled and a line for the substitute is added
    (or an existing line for it grows), allocated from stock. Lock order as everywhere: stock items of
    every product of the order and of the substitute (pk order), then the order, then lines and backorder.
    Returns the substitute's order line.
    """
    from inventory.locks import stock_items_lock_for_products
    from inventory.lots import lots_attach, lots_take
    from inventory.routing import route_line, usable_units
    from orders.lots import lot_allocations_add
    from orders.models import Allocation, Order, OrderLine
    from orders.selectors import channel_warehouse_ids
    from orders.services import orders_status_refresh

    from .services import backorder_event_record, backorder_status_for, backorder_transition, eta_request

    if not isinstance(sku, str) or not sku.strip():
        raise InvalidInput("Say which substitute to switch to (sku).", details={"sku": sku})
    sku = sku.strip()
    if channel is not None and backorder.order.channel_id != channel.pk:
        raise NotFoundError(f"Backorder {backorder.pk} not found.")
    substitute = Product.objects.filter(sku=sku).first()
    if substitute is None:
        raise UnknownSku(f"Unknown SKU {sku!r}.", details={"skus": [sku]})
    if not backorder.product.substitutes.filter(pk=substitute.pk).exists():
        raise NotASubstitute(
            f"{sku} is not listed as a substitute of {backorder.product.sku}.",
            details={"sku": sku, "backordered_sku": backorder.product.sku},
        )
    if substitute.status != Product.Status.ACTIVE:
        raise NotASubstitute(f"{sku} is no longer sold.", details={"sku": sku})

    order_product_ids = list(OrderLine.objects.filter(order_id=backorder.order_id).values_list("product_id", flat=True))
    items = [
        item
        for item in stock_items_lock_for_products([*order_product_ids, substitute.pk])
        if item.product_id == substitute.pk
    ]
    for item in items:
        item.product = substitute
    lots_attach(items)  # a lot-tracked substitute: its FEFO lots good enough to ship
    order = (
        Order.objects.select_for_update(no_key=True, of=("self",)).select_related("channel").get(pk=backorder.order_id)
    )
    lines = {
        line.product_id: line
        for line in OrderLine.objects.select_for_update(no_key=True, of=("self",))
        .filter(order_id=order.pk)
        .order_by("pk")
    }
    backorder = (
        Backorder.objects.select_for_update(no_key=True, of=("self",)).select_related("product").get(pk=backorder.pk)
    )
    if not backorder.is_waiting:
        raise BackorderClosed(
            f"Backorder {backorder.pk} is {backorder.status}; nothing is waiting to switch.",
            details={"status": backorder.status},
        )
    quantity = backorder.quantity_outstanding
    from .selectors import waiting_demand_by_product

    owed = waiting_demand_by_product(product_ids=[substitute.pk]).get(substitute.pk, 0)
    allowed = channel_warehouse_ids(channel=order.channel) if order.channel_id else None
    free = max(0, usable_units(items, allowed) - owed)
    picks = route_line(items, quantity, allowed=allowed, allow_split=order.allow_split) if free >= quantity else []
    if sum(units for _, units in picks) < quantity:
        raise InsufficientStock(
            f"Only {free} of {sku} are free now; {quantity} are needed to replace the waiting units.",
            details={"sku": sku, "available": free, "needed": quantity},
        )

    # 1. The waiting units of the backordered line are cancelled.
    old_line = lines[backorder.product_id]
    OrderLine.objects.filter(pk=old_line.pk).update(
        quantity_backordered=F("quantity_backordered") - quantity, quantity_cancelled=F("quantity_cancelled") + quantity
    )
    backorder.quantity_cancelled += quantity
    new_status = backorder_status_for(backorder)
    backorder_transition(backorder=backorder, status=new_status)
    backorder.save(update_fields=["quantity_cancelled", "status", "allocated_at", "fulfilled_at", "cancelled_at"])

    # 2. The substitute is allocated from stock, on a new line or the order's existing line for it.
    sub_line = lines.get(substitute.pk)
    if sub_line is None:
        sub_line = OrderLine.objects.create(
            order=order,
            product=substitute,
            quantity=quantity,
            unit_price=substitute.unit_price,
            quantity_allocated=quantity,
        )
    else:
        OrderLine.objects.filter(pk=sub_line.pk).update(
            quantity=F("quantity") + quantity, quantity_allocated=F("quantity_allocated") + quantity
        )
    for item, take in picks:
        if hasattr(item, "fefo_lots"):  # lot-tracked: FEFO within the stock item routing chose
            lot_allocations_add(picks=[(sub_line.pk, lot, n) for lot, n in lots_take(item, take)])
        stock_allocate(quantities={item.pk: take}, items={item.pk: item})
        if not Allocation.objects.filter(order_line=sub_line, stock_item=item).update(quantity=F("quantity") + take):
            Allocation.objects.create(order_line=sub_line, stock_item=item, quantity=take)
    Order.objects.filter(pk=order.pk).update(total=F("total") + substitute.unit_price * quantity)

    backorder_event_record(
        backorder=backorder,
        kind=BackorderEvent.Kind.CANCELLED,
        quantity=quantity,
        message=f"{quantity} waiting unit(s) replaced by substitute {substitute.sku}, allocated from stock.",
        data={
            "reason": f"Switched to {substitute.sku}",
            "status": new_status,
            "substitute": {"sku": substitute.sku, "name": substitute.name, "quantity": quantity, "line": sub_line.pk},
        },
        user=user,
    )
    orders_status_refresh(order_ids=[order.pk])
    # Both queues moved: the backordered product's waiting demand shrank, the substitute's free stock did too.
    eta_request(product_ids=[backorder.product_id, substitute.pk])
    sub_line.refresh_from_db()
    return sub_line
