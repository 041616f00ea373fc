"""The supply port: where incoming units for ETAs come from, without backorders importing any supplier code.

A source of incoming supply (``suppliers`` registers its purchase orders and lead times in its
``AppConfig.ready()``) implements two functions, and backorders asks every registered source:

- ``incoming(product_id) -> list[(line id, expected date, units still to come)]``: dated supply;
- ``lead_time_days(product_id) -> int | None``: the estimate used when no dated supply covers the demand.

and may implement a third, what it has learned about how its supply really arrives (docs/promises.md):

- ``promises(product_id, service_level, today) -> SupplyPromises``: per incoming line, the days to add to its
  expected date so it arrives by then in ``service_level`` of similar past cases; and the days from today within
  which a new order arrives at that level. Without it (or without enough history) the quoted dates stand.

With no source registered (inventory alone), backorders project from free stock only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Measured:
    """A learned figure: ``days`` (a slip to add, or a lead time) that held in ``confidence`` of ``samples`` past
    cases, measured over ``scope`` ("supplier product" or "supplier")."""

    days: int
    confidence: float
    samples: int
    scope: str = "supplier"


@dataclass(frozen=True)
class SupplyPromises:
    slips: dict[int, Measured] = field(default_factory=dict)  # incoming line id → measured slip
    lead_time: Measured | None = None  # a new order's measured lead time (days from today)
    overdue_units: int = 0  # units promised by today (original date) that have not arrived: a supplier delay
    # incoming line id → ((share, measured slip), ...): the first quarter, half... of a line that nothing has arrived
    # of yet, when they come sooner than the whole (partial deliveries); the rest comes by the line's slip
    shares: dict[int, tuple[tuple[float, Measured], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SupplyRead:
    """What the sources report for one product: its dated supply, the quoted lead time and what they learned."""

    incoming: list[tuple[int, date, int]]
    lead_time_days: int | None
    promises: SupplyPromises


@dataclass(frozen=True)
class SupplySource:
    name: str
    incoming: Callable[[int], list[tuple[int, date, int]]]
    lead_time_days: Callable[[int], int | None]
    promises: Callable[[int, float, date], SupplyPromises] | None = None
    # Optional: the same three for many products at once, as ``reads(product ids)``: a fixed number of reads that
    # depend on the ids alone (QuerySets or SQL, for ``core.sql.fetch_together``: the caller runs them in one round
    # trip with its own, and may keep the statement built), and ``finish(product ids, their rows, service level,
    # today) -> {product id: SupplyRead}``.
    reads: Callable[[list[int]], list] | None = None
    finish: Callable[[list[int], list, float, date], dict[int, SupplyRead]] | None = None
    read_count: int = 0  # how many reads ``reads`` gives


_sources: dict[str, SupplySource] = {}


def supply_source_register(source: SupplySource) -> None:
    """Register (or replace, by name) a source of incoming supply."""
    _sources[source.name] = source


def supply_sources() -> list[SupplySource]:
    return list(_sources.values())


def incoming_supply(product_id: int) -> list[tuple[int, date, int]]:
    return [line for source in _sources.values() for line in source.incoming(product_id)]


def lead_time_days(product_id: int) -> int | None:
    for source in _sources.values():
        days = source.lead_time_days(product_id)
        if days is not None:
            return days
    return None


def supply_promises(product_id: int, *, service_level: float, today: date) -> SupplyPromises:
    """What every source has learned for the product (the first measured lead time wins, like ``lead_time_days``)."""
    slips: dict[int, Measured] = {}
    shares: dict[int, tuple] = {}
    lead_time = None
    overdue_units = 0
    for source in _sources.values():
        if source.promises is None:
            continue
        learned = source.promises(product_id, service_level, today)
        slips.update(learned.slips)
        shares.update(learned.shares)
        lead_time = lead_time or learned.lead_time
        overdue_units += learned.overdue_units
    return SupplyPromises(slips=slips, lead_time=lead_time, overdue_units=overdue_units, shares=shares)


def _merged(reports: list[SupplyRead]) -> SupplyRead:
    """The sources' reports for one product, merged as the functions above merge them: every dated line, the first
    quoted lead time, every measured slip and share, the first measured lead time, the overdue units summed."""
    slips: dict[int, Measured] = {}
    shares: dict[int, tuple] = {}
    lead_time = None
    for report in reports:
        slips.update(report.promises.slips)
        shares.update(report.promises.shares)
        lead_time = lead_time or report.promises.lead_time
    return SupplyRead(
        incoming=[line for report in reports for line in report.incoming],
        lead_time_days=next((r.lead_time_days for r in reports if r.lead_time_days is not None), None),
        promises=SupplyPromises(
            slips=slips,
            lead_time=lead_time,
            overdue_units=sum(r.promises.overdue_units for r in reports),
            shares=shares,
        ),
    )


def supply_reads(product_ids: list[int]) -> list:
    """Every source's reads for these products (``SupplySource.reads``), for the caller to run in one round trip
    with its own; ``supply_finish`` turns their rows into each product's ``SupplyRead``."""
    return [read for source in _sources.values() if source.reads is not None for read in source.reads(product_ids)]


def supply_finish(product_ids: list[int], rows: list, *, service_level: float, today: date) -> dict[int, SupplyRead]:
    """The sources' reports from the rows of ``supply_reads``, merged per product; a source without ``reads`` is
    asked product by product (its own queries)."""
    ids = list(product_ids)
    per_source = []
    start = 0
    for source in _sources.values():
        if source.reads is not None:
            count = source.read_count
            per_source.append(source.finish(ids, rows[start : start + count], service_level, today))
            start += count
            continue
        per_source.append(
            {
                pk: SupplyRead(
                    incoming=source.incoming(pk),
                    lead_time_days=source.lead_time_days(pk),
                    promises=source.promises(pk, service_level, today) if source.promises else SupplyPromises(),
                )
                for pk in ids
            }
        )
    return {pk: _merged([reports[pk] for reports in per_source]) for pk in ids}
