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
    - channel of each backorder = its order's (the copy the channel lists read)
    - lots (docs/lots.md): see ``_lot_problems``
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
    problems.extend(_backorder_channel_problems())
    problems.extend(_lot_problems())
    return problems


def _lot_problems() -> list[str]:
    """Lots against their ledger rows and lot allocations, and the stock items of lot-tracked products against
    their lots:

    - on_hand of each lot = sum of the ledger movements naming it; allocated = sum of its lot allocations
    - each lot belongs to its stock item's product and warehouse
    - on_hand and allocated of a lot-tracked stock item = sums over its lots; every movement of it names a lot
    - each order line's lot allocations in a stock item add up to its allocation of that stock item
    """
    from inventory.models import Lot, Product
    from orders.models import Allocation, LotAllocation

    problems: list[str] = []
    moved = StockMovement.objects.filter(lot=OuterRef("pk")).values("lot")
    held = LotAllocation.objects.filter(lot=OuterRef("pk")).values("lot")
    lots = (
        Lot.objects.annotate(
            ledger=Coalesce(Subquery(moved.annotate(t=Sum("quantity")).values("t")[:1]), Value(0)),
            reserved=Coalesce(Subquery(held.annotate(t=Sum("quantity")).values("t")[:1]), Value(0)),
        )
        .filter(
            ~Q(on_hand=F("ledger"))
            | ~Q(allocated=F("reserved"))
            | ~Q(product_id=F("stock_item__product_id"))
            | ~Q(warehouse_id=F("stock_item__warehouse_id"))
        )
        .select_related("stock_item")
    )
    for lot in lots:
        if lot.on_hand != lot.ledger:
            problems.append(f"lot {lot.pk} {lot.number}: on_hand {lot.on_hand} != ledger {lot.ledger}")
        if lot.allocated != lot.reserved:
            problems.append(f"lot {lot.pk} {lot.number}: allocated {lot.allocated} != lot allocations {lot.reserved}")
        if (lot.product_id, lot.warehouse_id) != (lot.stock_item.product_id, lot.stock_item.warehouse_id):
            problems.append(f"lot {lot.pk} {lot.number}: product/warehouse differ from its stock item's")
    lot_sums = Lot.objects.filter(stock_item=OuterRef("pk")).values("stock_item")
    items = (
        StockItem.objects.filter(product__tracking=Product.Tracking.LOT)
        .annotate(
            lots_on_hand=Coalesce(Subquery(lot_sums.annotate(t=Sum("on_hand")).values("t")[:1]), Value(0)),
            lots_allocated=Coalesce(Subquery(lot_sums.annotate(t=Sum("allocated")).values("t")[:1]), Value(0)),
        )
        .filter(~Q(on_hand=F("lots_on_hand")) | ~Q(allocated=F("lots_allocated")))
        .select_related("product", "warehouse")
    )
    for item in items:
        problems.append(
            f"stock {item.product.sku}@{item.warehouse.code}: on_hand/allocated {item.on_hand}/{item.allocated} "
            f"!= sums of its lots {item.lots_on_hand}/{item.lots_allocated}"
        )
    unnamed = StockMovement.objects.filter(stock_item__product__tracking=Product.Tracking.LOT, lot__isnull=True)
    for sku, count in unnamed.values_list("stock_item__product__sku").annotate(n=Sum(Value(1))).order_by():
        problems.append(f"stock {sku}: {count} ledger movement(s) of a lot-tracked product name no lot")
    by_lot = (
        LotAllocation.objects.filter(
            order_line_id=OuterRef("order_line_id"), lot__stock_item_id=OuterRef("stock_item_id")
        )
        .values("order_line_id")
        .annotate(t=Sum("quantity"))
        .values("t")[:1]
    )
    mismatched = (
        Allocation.objects.filter(stock_item__product__tracking=Product.Tracking.LOT)
        .annotate(lots=Coalesce(Subquery(by_lot), Value(0)))
        .exclude(quantity=F("lots"))
        .values_list("order_line_id", "stock_item_id", "quantity", "lots")
    )
    for line_id, item_id, quantity, in_lots in mismatched:
        problems.append(
            f"order line {line_id}: allocation of stock {item_id} {quantity} != its lot allocations {in_lots}"
        )
    return problems


def _backorder_channel_problems() -> list[str]:
    """Backorders whose copy of the channel is not their order's (the channel lists would miss or show them)."""
    from django.db import connection

    from backorders.models import Backorder
    from orders.models import Order

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.id, o.number, b.channel_id, o.channel_id FROM {Backorder._meta.db_table} b"
            f" JOIN {Order._meta.db_table} o ON o.id = b.order_id"
            " WHERE b.channel_id IS DISTINCT FROM o.channel_id ORDER BY b.id"
        )
        rows = cursor.fetchall()
    return [
        f"backorder {pk} (order {number}): channel {channel} != its order's {order_channel}"
        for pk, number, channel, order_channel in rows
    ]


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
