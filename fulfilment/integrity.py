"""The integrity check: every denormalised number recomputed from the rows it caches, across every app.

Stock counters against the ledger and the allocations, order-line counters against backorders, order statuses
against their lines. ``manage.py check_integrity`` runs it; so do the concurrency and state-machine tests.
"""

from __future__ import annotations

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import StockItem, StockMovement


def integrity_problems() -> list[str]:
    """Recompute every cached number from its rows; each mismatch is one line of text.

    - on_hand of each stock item = sum of its ledger movements
    - allocated of each stock item = sum of its allocations
    - allocated of each order line = sum of its allocations
    - backordered of each order line = units still waiting on its backorder
    - status of each order = what its lines say (orders.services.order_status_derive)
    """
    from backorders.models import Backorder
    from orders.models import Allocation, OrderLine

    problems: list[str] = []
    movements = StockMovement.objects.filter(stock_item=OuterRef("pk")).values("stock_item")
    allocations = Allocation.objects.filter(stock_item=OuterRef("pk")).values("stock_item")
    items = (
        StockItem.objects.annotate(
            ledger=Coalesce(Subquery(movements.annotate(t=Sum("quantity")).values("t")[:1]), Value(0)),
            reserved=Coalesce(Subquery(allocations.annotate(t=Sum("quantity")).values("t")[:1]), Value(0)),
        )
        .filter(~Q(on_hand=F("ledger")) | ~Q(allocated=F("reserved")))
        .select_related("product", "warehouse")
    )
    for item in items:
        if item.on_hand != item.ledger:
            problems.append(
                f"stock {item.product.sku}@{item.warehouse.code}: on_hand {item.on_hand} != ledger {item.ledger}"
            )
        if item.allocated != item.reserved:
            problems.append(
                f"stock {item.product.sku}@{item.warehouse.code}: allocated {item.allocated} "
                f"!= allocations {item.reserved}"
            )

    line_allocations = Allocation.objects.filter(order_line=OuterRef("pk")).values("order_line")
    waiting = Backorder.objects.filter(order_line=OuterRef("pk"), status__in=Backorder.WAITING).annotate(
        t=F("quantity") - F("quantity_allocated") - F("quantity_cancelled")
    )
    lines = (
        OrderLine.objects.annotate(
            reserved=Coalesce(Subquery(line_allocations.annotate(t=Sum("quantity")).values("t")[:1]), Value(0)),
            waiting=Coalesce(Subquery(waiting.values("t")[:1]), Value(0)),
        )
        .filter(~Q(quantity_allocated=F("reserved")) | ~Q(quantity_backordered=F("waiting")))
        .select_related("order", "product")
    )
    for line in lines:
        if line.quantity_allocated != line.reserved:
            problems.append(
                f"order {line.order.number} {line.product.sku}: allocated {line.quantity_allocated} "
                f"!= allocations {line.reserved}"
            )
        if line.quantity_backordered != line.waiting:
            problems.append(
                f"order {line.order.number} {line.product.sku}: backordered {line.quantity_backordered} "
                f"!= waiting on backorder {line.waiting}"
            )
    problems.extend(_order_status_problems())
    return problems


def _order_status_problems() -> list[str]:
    """Orders whose stored status is not the one their lines give, in one query (twin of order_status_derive)."""
    from django.db.models import Case, When

    from orders.models import Order

    def total(field):
        return Coalesce(Sum(f"lines__{field}"), Value(0))

    Status = Order.Status
    orders = (
        Order.objects.annotate(
            ordered=total("quantity"),
            cancelled=total("quantity_cancelled"),
            still_open=total("quantity_allocated") + total("quantity_backordered"),
            shipped=total("quantity_shipped"),
            waiting=total("quantity_backordered"),
        )
        .annotate(
            derived=Case(
                When(cancelled=F("ordered"), then=Value(Status.CANCELLED)),
                When(still_open=0, then=Value(Status.SHIPPED)),
                When(shipped__gt=0, then=Value(Status.PARTIALLY_SHIPPED)),
                When(waiting__gt=0, then=Value(Status.BACKORDERED)),
                default=Value(Status.OPEN),
            )
        )
        .exclude(status=F("derived"))
        .values_list("number", "status", "derived")
    )
    return [f"order {number}: status {status} != {derived} from its lines" for number, status, derived in orders]
