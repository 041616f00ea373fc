"""Units in transit between warehouses as a source of dated supply for ETAs (the supply port, ``backorders.supply``).

Transfers live in inventory, below backorders, so backorders registers them itself (``BackordersConfig.ready``), as
suppliers register their purchase orders in theirs. Each line is ``(None, expected date, units)``: not a
purchase-order line (the projection's basis for it is ``transfer``). No lead time and nothing learned: a transfer
is planned by us, not quoted by a supplier. The batched form (``reads``/``finish``) adds one read to the statement
the ETA path already sends (``core.sql.fetch_together``): no round trip of its own.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from inventory.selectors import transfer_lines_in_transit, transfer_lines_in_transit_read

from .supply import SupplyPromises, SupplyRead, SupplySource


def _reads(product_ids: list[int]) -> list:
    return [transfer_lines_in_transit_read(product_ids)]


def _finish(product_ids: list[int], rows: list, service_level: float, today: date) -> dict[int, SupplyRead]:
    [line_rows] = rows
    lines = defaultdict(list)
    for product_id, expected, units in line_rows:
        lines[product_id].append((None, expected, units))
    return {pk: SupplyRead(incoming=lines[pk], lead_time_days=None, promises=SupplyPromises()) for pk in product_ids}


TRANSFERS = SupplySource(
    name="transfers",
    incoming=transfer_lines_in_transit,
    lead_time_days=lambda product_id: None,
    reads=_reads,
    finish=_finish,
    read_count=1,
)
