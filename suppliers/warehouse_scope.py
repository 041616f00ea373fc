"""Shortages and planning seen from one warehouse (``?warehouse=``), and the transfer to suggest before a purchase
order (docs/warehouses.md, "Shortages and planning per warehouse"). Reads only.

- available: the warehouse's free units (none when it is inactive);
- incoming: open purchase-order units to the warehouse, and units in transit to it (transfers);
- waiting: units of waiting backorders the warehouse may serve (their order's channel lists it, lists no warehouse,
  or there is no channel: ``inventory.routing``);
- surplus elsewhere: the other active warehouse with the most free units. Free units are by construction wanted by no
  waiting line that may use them (the allocation engine would have handed them out), so they may move.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, F, OuterRef, Q, Sum

from inventory.exceptions import UnknownWarehouse


@dataclass
class WarehouseScope:
    code: str
    active: bool
    on_hand: dict[int, int] = field(default_factory=dict)
    free: dict[int, int] = field(default_factory=dict)
    incoming_by_date: dict[int, dict[date, int]] = field(default_factory=lambda: defaultdict(dict))
    waiting: dict[int, int] = field(default_factory=dict)
    surplus: dict[int, tuple[str, int]] = field(default_factory=dict)  # product id → (warehouse code, free units)

    def incoming(self, product_id: int) -> int:
        return sum(self.incoming_by_date.get(product_id, {}).values())

    def transfer(self, product_id: int, short: int) -> tuple[str | None, int]:
        """(warehouse to move units from, units) that cover up to ``short`` units before a purchase order."""
        source, units = self.surplus.get(product_id, (None, 0))
        quantity = min(max(0, short), units)
        return (source, quantity) if quantity else (None, 0)


def warehouse_scope(*, code: str, product_ids=None) -> WarehouseScope:
    """The stock side of one warehouse for these products (None: every product someone waits for or that is stocked
    there). Five queries."""
    from backorders.models import Backorder
    from inventory.models import StockItem, Transfer, TransferLine, Warehouse
    from orders.models import SalesChannel

    from .selectors import incoming_lines

    warehouse = Warehouse.objects.filter(code=code).first()
    if warehouse is None:
        raise UnknownWarehouse(f"Unknown warehouse {code!r}.", details={"warehouse": code})
    scope = WarehouseScope(code=warehouse.code, active=warehouse.is_active)

    through = SalesChannel.warehouses.through
    may_serve = (
        Q(order__channel__isnull=True)
        | ~Exists(through.objects.filter(saleschannel_id=OuterRef("order__channel_id")))
        | Exists(through.objects.filter(saleschannel_id=OuterRef("order__channel_id"), warehouse_id=warehouse.pk))
    )
    waiting = Backorder.objects.filter(may_serve, status__in=Backorder.WAITING)
    if product_ids is not None:
        waiting = waiting.filter(product_id__in=list(product_ids))
    scope.waiting = dict(
        waiting.values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
        .values_list("product_id", "units")
    )
    ids = list(scope.waiting) if product_ids is None else list(product_ids)

    stock = StockItem.objects.filter(product_id__in=ids).values_list(
        "product_id", "warehouse__code", "warehouse__is_active", "on_hand", "allocated"
    )
    for product_id, stock_code, active, on_hand, allocated in stock.order_by("warehouse__priority", "warehouse_id"):
        free = max(0, on_hand - allocated) if active else 0
        if stock_code == warehouse.code:
            scope.on_hand[product_id] = on_hand
            scope.free[product_id] = free
        elif free > scope.surplus.get(product_id, (None, 0))[1]:
            scope.surplus[product_id] = (stock_code, free)

    for line in (
        incoming_lines(product_ids=ids)
        .filter(purchase_order__warehouse=warehouse)
        .values("product_id", "expected_date", "quantity_ordered", "quantity_received")
    ):
        by_date = scope.incoming_by_date[line["product_id"]]
        day = line["expected_date"]
        by_date[day] = by_date.get(day, 0) + line["quantity_ordered"] - line["quantity_received"]
    if warehouse.is_active:
        for product_id, day, quantity in TransferLine.objects.filter(
            product_id__in=ids, transfer__status=Transfer.Status.IN_TRANSIT, transfer__destination=warehouse
        ).values_list("product_id", "transfer__expected_date", "quantity"):
            by_date = scope.incoming_by_date[product_id]
            by_date[day] = by_date.get(day, 0) + quantity
    return scope


def network_scope(*, product_ids=None) -> WarehouseScope:
    """Every active warehouse together (no ``?warehouse=``): what the lists showed before, plus the units in transit
    between warehouses as incoming (they left the source's stock and arrive on the transfer's expected date)."""
    from backorders.models import Backorder
    from inventory.models import StockItem

    from .selectors import incoming_lines

    scope = WarehouseScope(code="", active=True)
    waiting = Backorder.objects.filter(status__in=Backorder.WAITING)
    if product_ids is not None:
        waiting = waiting.filter(product_id__in=list(product_ids))
    scope.waiting = dict(
        waiting.values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
        .values_list("product_id", "units")
    )
    ids = list(scope.waiting)
    for row in (
        StockItem.objects.filter(product_id__in=ids)
        .values("product_id")
        .annotate(
            units=Sum("on_hand"),
            free=Sum(F("on_hand") - F("allocated"), filter=Q(warehouse__is_active=True)),  # StockItem...sellable()
        )
    ):
        scope.on_hand[row["product_id"]] = row["units"] or 0
        scope.free[row["product_id"]] = max(0, row["free"] or 0)
    for line in incoming_lines(product_ids=ids).values(
        "product_id", "expected_date", "quantity_ordered", "quantity_received"
    ):
        by_date = scope.incoming_by_date[line["product_id"]]
        day = line["expected_date"]
        by_date[day] = by_date.get(day, 0) + line["quantity_ordered"] - line["quantity_received"]
    for product_id, day, quantity in transfer_lines_in_transit_for(ids):
        by_date = scope.incoming_by_date[product_id]
        by_date[day] = by_date.get(day, 0) + quantity
    return scope


def transfer_lines_in_transit_for(product_ids) -> list[tuple[int, date, int]]:
    """(product id, expected date, units) in transit to an active warehouse, for these products."""
    from inventory.selectors import transfer_lines_in_transit_read

    return list(transfer_lines_in_transit_read(product_ids))
