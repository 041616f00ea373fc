"""Which warehouses' stock may be promised, and in which order: the one home of the warehouse rules.

- Stock in an inactive warehouse is not available: not to order placement, not to the allocation engine, not to
  availability reads (products, shortages, planning, alternatives) and not to ETA supply. It is still on hand
  (physically there; adjustments, counts and transfers out still work).

The lock helpers (``inventory.locks``) read each stock item's warehouse facts in the locking statement, named as in
``WAREHOUSE_FACTS`` (attribute on the locked item → Warehouse field); the set-based forms use ``SELLABLE_SQL`` and
``StockItemQuerySet.sellable``.
"""

from __future__ import annotations

from django.db.models import F

WAREHOUSE_FACTS: list[tuple[str, str]] = [("warehouse_active", "is_active")]

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
