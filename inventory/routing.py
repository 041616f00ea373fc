"""Which warehouses' stock may be promised, and in which order: the one home of the warehouse rules.

- **Inactive warehouses**: stock in an inactive warehouse is not available: not to order placement, not to the
  allocation engine, not to availability reads (products, shortages, planning, alternatives) and not to ETA supply.
  It is still on hand (physically there; adjustments, counts and transfers out still work).
- **Channel's warehouses**: a sales channel may list the warehouses it ships from; none listed means every active
  warehouse. Orders without a channel (staff) may use every active warehouse.
- **Routing** (``route_line``): a line is served from ONE warehouse that can fill it whole when one exists (the
  best priority among those: lowest ``Warehouse.priority``, then lowest warehouse id); otherwise from the
  warehouses in priority order, each giving what it has. With ``allow_split`` off (customer or order) the line is
  never split across warehouses: served whole from one warehouse, or not at all (it waits, whole, for a warehouse
  that can fill it).

Order placement and the allocation engine (its planned path, its Python twin) call ``route_line``; the engine's
set-based fast path runs only where routing has nothing to decide (the free stock lies in one warehouse every waiting
line may use, and no waiting line refuses splits), and a test proves it agrees with the planned path.

The lock helpers (``inventory.locks``) read each stock item's warehouse facts in the locking statement, named as in
``WAREHOUSE_FACTS`` (attribute on the locked item → Warehouse field); set-based forms use ``SELLABLE_SQL`` and
``StockItemQuerySet.sellable``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F

WAREHOUSE_FACTS: list[tuple[str, str]] = [("warehouse_active", "is_active"), ("warehouse_priority", "priority")]

# The SQL form of "this stock item's warehouse may serve": ``w`` is the warehouse joined to the stock item.
SELLABLE_SQL = "w.is_active"


def warehouse_annotations() -> dict:
    """The ORM form of ``WAREHOUSE_FACTS`` for a stock item queryset (a join, read with the row)."""
    return {name: F(f"warehouse__{field}") for name, field in WAREHOUSE_FACTS}


def sellable_units(item) -> int:
    """Units of a locked stock item that may be allocated or promised: its free units in an active warehouse (of a
    lot-tracked product, only those of lots good enough to ship: ``lot_units``, set by ``inventory.lots``)."""
    units = max(0, item.available) if item.warehouse_active else 0
    lot_units = getattr(item, "lot_units", None)
    return units if lot_units is None else min(units, lot_units)


def may_serve(item, allowed: frozenset[int] | None) -> bool:
    """Whether this stock item's warehouse may serve a line of a channel shipping from ``allowed`` (None or empty:
    every active warehouse)."""
    return item.warehouse_active and (not allowed or item.warehouse_id in allowed)


def routing_key(item) -> tuple[int, int, int]:
    return (item.warehouse_priority, item.warehouse_id, item.pk)


def usable_units(items: Iterable, allowed: frozenset[int] | None) -> int:
    """Units a line of a channel shipping from ``allowed`` could take from these locked stock items."""
    return sum(sellable_units(item) for item in items if may_serve(item, allowed))


def route_line(items: Iterable, quantity: int, *, allowed: frozenset[int] | None, allow_split: bool) -> list[tuple]:
    """Where ``quantity`` units of one line come from: [(stock item, units)], at most ``quantity`` in all (less when
    the usable stock is short and splits are allowed; nothing when no warehouse can fill it whole and they are not).

    ``items`` are one product's locked stock items (with their warehouse facts); they are not changed here.
    """
    if quantity <= 0:
        return []
    # Each item's units are read once (this runs once per waiting line in the allocation engine's routed plan).
    candidates = []
    for item in items:
        if may_serve(item, allowed):
            units = sellable_units(item)
            if units > 0:
                candidates.append((routing_key(item), units, item))
    candidates.sort(key=_first)
    for _, units, item in candidates:
        if units >= quantity:
            return [(item, quantity)]
    if not allow_split:
        return []
    picks, remaining = [], quantity
    for _, units, item in candidates:
        take = min(units, remaining)
        picks.append((item, take))
        remaining -= take
        if not remaining:
            break
    return picks


def _first(row: tuple):
    return row[0]
