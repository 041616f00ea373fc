"""Hand-built dashboard data: orders, lines and backorders with exact timestamps (the services stamp
"now", which a KPI test cannot control)."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from backorders.models import PRIORITY_RANKS, Backorder
from orders.models import Customer, Order, OrderLine
from tests.orders.factories import CustomerFactory

_numbers = itertools.count(1)


def make_order(
    *, placed_at: datetime, lines: list[tuple], customer: Customer | None = None, channel=None, priority: str = "normal"
) -> tuple[Order, list[OrderLine]]:
    """``lines``: (product, quantity, backordered) tuples; the rest of each line counts as allocated."""
    customer = customer or CustomerFactory()
    order = Order.objects.create(
        number=f"SO-T{next(_numbers):06d}",
        customer=customer,
        channel=channel,
        placed_at=placed_at,
        priority=priority,
        status=Order.Status.BACKORDERED if any(b for _, _, b in lines) else Order.Status.OPEN,
        total=sum((p.unit_price * q for p, q, _ in lines), Decimal("0")),
    )
    created = [
        OrderLine.objects.create(
            order=order,
            product=product,
            quantity=quantity,
            unit_price=product.unit_price,
            quantity_allocated=quantity - backordered,
            quantity_backordered=backordered,
        )
        for product, quantity, backordered in lines
    ]
    return order, created


def make_backorder(line: OrderLine, *, created_at: datetime, quantity: int | None = None, **fields) -> Backorder:
    """A backorder of ``line`` with the given timestamps/status (written with update() so created_at sticks)."""
    order = line.order
    backorder = Backorder.objects.create(
        order_line=line,
        order=order,
        product=line.product,
        quantity=quantity if quantity is not None else line.quantity_backordered,
        priority=order.priority,
        priority_rank=PRIORITY_RANKS[order.priority],
        placed_at=order.placed_at,
        **{k: v for k, v in fields.items() if k != "created_at"},
    )
    Backorder.objects.filter(pk=backorder.pk).update(created_at=created_at)
    backorder.refresh_from_db()
    return backorder
