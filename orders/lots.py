"""Lot allocations: which lots' units an allocation of a lot-tracked product holds (docs/lots.md).

An ``Allocation`` (order line × stock item) of a lot-tracked product is broken down by lot in ``LotAllocation`` rows
(order line × lot) that add up to it; the lots' ``allocated`` counters move with them (``inventory.counters``).
Callers hold the stock items' locks (which guard their lots and these rows) and keep the ``Allocation`` rows and
the stock items' counters themselves, exactly as for untracked products.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import F

from inventory.counters import lot_allocate
from inventory.models import Lot

from .models import LotAllocation


def lot_allocations_add(*, picks: Iterable[tuple[int, Lot | int, int]], move_counters: bool = True) -> None:
    """Add ``(order line id, lot, units)`` to the lines' lot allocations; with ``move_counters`` the lots'
    ``allocated`` too (not when units only change hands between lines: ``lot_allocations_take``)."""
    per_lot: dict[int, int] = defaultdict(int)
    per_row: dict[tuple[int, int], int] = defaultdict(int)
    for line_id, lot, q in picks:
        lot_id = lot if isinstance(lot, int) else lot.pk
        per_row[(line_id, lot_id)] += q
        per_lot[lot_id] += q
    if not per_row:
        return
    existing = {
        (row.order_line_id, row.lot_id): row.pk
        for row in LotAllocation.objects.filter(
            order_line_id__in={line for line, _ in per_row}, lot_id__in={lot for _, lot in per_row}
        )
    }
    new = []
    for key, q in sorted(per_row.items()):
        if key in existing:
            LotAllocation.objects.filter(pk=existing[key]).update(quantity=F("quantity") + q)
        else:
            new.append(LotAllocation(order_line_id=key[0], lot_id=key[1], quantity=q))
    LotAllocation.objects.bulk_create(new)
    if move_counters:
        lot_allocate(quantities=per_lot)


def lot_allocations_take(
    *, order_line_id: int, stock_item_id: int, quantity: int, release: bool = True
) -> list[tuple[int, int]]:
    """Take ``quantity`` units off a line's lot allocations in one stock item — the lots expiring last first, so
    the line keeps the units that must go first — and return ``(lot id, units)``. With ``release`` the lots'
    ``allocated`` goes down too (units back to the pool); without, the caller gives them to another line."""
    taken: list[tuple[int, int]] = []
    rows = (
        LotAllocation.objects.filter(order_line_id=order_line_id, lot__stock_item_id=stock_item_id)
        .select_related("lot")
        .order_by(F("lot__expiry_date").desc(nulls_first=True), "-lot_id")
    )
    for row in rows:
        if quantity <= 0:
            break
        q = min(row.quantity, quantity)
        quantity -= q
        if q == row.quantity:
            LotAllocation.objects.filter(pk=row.pk).delete()
        else:
            LotAllocation.objects.filter(pk=row.pk).update(quantity=F("quantity") - q)
        taken.append((row.lot_id, q))
    if release and taken:
        lot_allocate(quantities={lot_id: -q for lot_id, q in taken})
    return taken
