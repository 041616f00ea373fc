"""The dates of a product's waiting backorders, projected from its supply (reads only; ``eta`` writes them).

Rules (per product, in allocation-queue order):
1. Units free in the warehouses now are supply dated today (of a lot-tracked product, not those in lots that can no
   longer meet its minimum shelf life).
2. Then the open purchase-order lines (sent or partly received, units still to come) and the units in transit
   between warehouses (basis ``transfer``), earliest expected date first; a date that has passed counts as today.
3. Walking the queue, a backorder's ETA is the date of the supply at which the cumulative supply covers the
   cumulative outstanding demand up to and including it (basis ``purchase_order``).
4. Demand beyond all known supply: today + the quoted lead time of the supplier a new order would go to (the
   preferred one, else the shortest quote of the product's active suppliers; basis ``lead_time``, an estimate).
   An estimate already given that is still in the future is kept, so it does not slip a day each day.
5. No supplier and no purchase order: no date (basis ``none``).

That is the **expected date** (``eta_expected``: what the supplier says). The customer-facing **promise** (``eta``)
is the date by which the supply arrived in ``ETA_SERVICE_LEVEL`` (90 %) of similar past cases (docs/promises.md;
the learning lives with the supplier data, behind the supply port): each incoming line's expected date plus its
supplier's measured slip (never earlier than the supplier's own date; learned from the cases in the line's position),
the first shares of a line that tends to come in parts dated apart when they come sooner, all walked in the order
those dates fall (basis ``purchase_order_history``); beyond known supply, today + the measured lead time
(``lead_time_history``).
``eta_confidence`` is the share of past cases in which such a date held. With too little history the rules above
stand: promise = expected date, basis ``purchase_order`` / ``lead_time``, no confidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models import F, Sum

from core.sql import fetch_together
from inventory.models import Lot, StockItem

from .models import Backorder
from .supply import SupplyPromises, SupplyRead, supply_finish, supply_reads

B = Backorder.EtaBasis


MEASURED_BASES = {B.PURCHASE_ORDER_HISTORY, B.LEAD_TIME_HISTORY}
LEAD_TIME_BASES = {B.LEAD_TIME, B.LEAD_TIME_HISTORY}


@dataclass
class Supply:
    free: int
    lines: list[tuple[int, date, int]]  # (po line id, expected date, units still to come), earliest first
    lead_time_days: int | None
    promises: SupplyPromises = field(default_factory=SupplyPromises)


class Eta(NamedTuple):
    """A backorder's dates: the promise (customer-facing), its basis, the PO line that covers it at its expected
    date, the expected date (the supplier's word) and the promise's measured confidence (None: not measured)."""

    eta: date | None
    basis: str
    line_id: int | None
    expected: date | None
    confidence: float | None
    overdue_units: int = 0  # the product's supply promised by today and not arrived (a supplier delay)


def free_units_read(product_ids):
    """Rule 1's units free in the warehouses now: (product id, units) rows, a read for ``core.sql.fetch_together``."""
    return (
        StockItem.objects.sellable()
        .filter(product_id__in=list(product_ids), on_hand__gt=F("allocated"))
        .order_by()
        .values("product_id")
        .annotate(units=Sum(F("on_hand") - F("allocated")))
        .values_list("product_id", "units")
    )


def short_dated_units_read(product_ids):
    """Free units of active lots with an expiry, with their product's minimum shelf life: (product id, expiry,
    minimum days, units) rows. Those that can no longer meet the minimum are not rule 1's supply (no allocation takes
    them; the daily sweep quarantines them), so ``supplies_from`` takes them off the free units."""
    return (
        Lot.objects.filter(
            product_id__in=list(product_ids),
            status=Lot.Status.ACTIVE,
            warehouse__is_active=True,
            expiry_date__isnull=False,
            on_hand__gt=F("allocated"),
        )
        .order_by()
        .annotate(units=F("on_hand") - F("allocated"))
        .values_list("product_id", "expiry_date", "product__min_shelf_life_days", "units")
    )


def supply_build(*, free: int, read: SupplyRead, today: date) -> Supply:
    """A product's ``Supply`` from what was read: its free units and what the supply port reported."""
    lines = [(pk, max(expected, today), units) for pk, expected, units in read.incoming]
    lines.sort(key=lambda line: (line[1], line[0] or 0))  # id None: units in transit between warehouses
    return Supply(free=free or 0, lines=lines, lead_time_days=read.lead_time_days, promises=read.promises)


def supplies_reads(product_ids) -> list:
    """What the ``Supply`` of these products is made of, as reads for ``core.sql.fetch_together`` (free stock, then
    the supply port's reads); ``supplies_from`` turns their rows into each product's ``Supply``."""
    return [free_units_read(product_ids), short_dated_units_read(product_ids), *supply_reads(list(product_ids))]


def supplies_from(product_ids, rows: list, today: date) -> dict[int, Supply]:
    free = dict(rows[0])
    for product_id, expiry, min_days, units in rows[1]:
        if expiry < today + timedelta(days=min_days):  # inventory.lots.lot_is_eligible's rule, for today
            free[product_id] = max(0, free.get(product_id, 0) - units)
    port = supply_finish(list(product_ids), rows[2:], service_level=settings.OMS["ETA_SERVICE_LEVEL"], today=today)
    return {pk: supply_build(free=free.get(pk, 0), read=port[pk], today=today) for pk in product_ids}


def supplies_read(product_ids, today: date) -> dict[int, Supply]:
    """The ``Supply`` of each product, read in one round trip."""
    ids = sorted(set(product_ids))
    return supplies_from(ids, fetch_together(supplies_reads(ids)), today)


def supply_read(product_id: int, today: date) -> Supply:
    """The ``Supply`` of one product (``supplies_read`` of one), read in one round trip."""
    return supplies_read([product_id], today)[product_id]


def _project(demands, supply: Supply, today: date):
    """Yield (eta, basis, po_line_id) for each cumulative demand, walking supply once (demands ascending)."""
    index = 0
    cumulative = supply.free
    for needed in demands:
        if needed <= supply.free:
            yield today, B.PURCHASE_ORDER, None
            continue
        while index < len(supply.lines) and cumulative < needed:
            cumulative += supply.lines[index][2]
            index += 1
        if cumulative >= needed and index > 0:
            line_id, expected, _ = supply.lines[index - 1]
            yield expected, B.PURCHASE_ORDER if line_id is not None else B.TRANSFER, line_id
        elif supply.lead_time_days is not None:
            yield today + timedelta(days=supply.lead_time_days), B.LEAD_TIME, None
        else:
            yield None, B.NONE, None


def _promised_lines(supply: Supply) -> list[tuple]:
    """The incoming lines as the promise walks them: (date, line id, units, measured slip), in the order the dates
    fall."""
    slips, shares = supply.promises.slips, supply.promises.shares
    lines = []
    for line_id, expected, units in supply.lines:
        slip = slips.get(line_id)
        done = 0
        for share, measured in shares.get(line_id, ()):
            # The first share of a line that tends to come in parts, by its own (earlier) date.
            part = int(share * units) - done
            if part > 0 and measured.days < slip.days:
                lines.append((expected + timedelta(days=max(0, measured.days)), line_id, part, measured))
                done += part
        day = expected + timedelta(days=max(0, slip.days)) if slip else expected
        lines.append((day, line_id, units - done, slip))
    lines.sort(key=lambda line: (line[0], line[1] or 0))
    return lines


def _promised(demands, supply: Supply, today: date):
    """Yield (promise, basis, confidence) for each cumulative demand (ascending): the incoming lines re-dated to their
    expected date + measured slip (never earlier than their own date), walked in the order those dates fall."""
    lines = _promised_lines(supply)
    lead_time = supply.promises.lead_time
    index = 0
    cumulative = supply.free
    for needed in demands:
        if needed <= supply.free:
            yield today, B.PURCHASE_ORDER, None
            continue
        while index < len(lines) and cumulative < needed:
            cumulative += lines[index][2]
            index += 1
        if cumulative >= needed and index > 0:
            day, line_id, _, slip = lines[index - 1]
            if slip:
                yield day, B.PURCHASE_ORDER_HISTORY, slip.confidence
            else:
                yield day, B.PURCHASE_ORDER if line_id is not None else B.TRANSFER, None
        elif lead_time is not None:
            yield today + timedelta(days=max(0, lead_time.days)), B.LEAD_TIME_HISTORY, lead_time.confidence
        elif supply.lead_time_days is not None:
            yield today + timedelta(days=supply.lead_time_days), B.LEAD_TIME, None
        else:
            yield None, B.NONE, None


# The basis as the plain text stored (``str()`` of a choices member is slow per row on a 100,000-row queue).
_BASIS = {basis: basis.value for basis in B}


def eta_project(demands, supply: Supply, today: date) -> Iterator[tuple]:
    """Both projections side by side for each cumulative demand (ascending): the expected date by today's rules and
    the promise at the service level, as plain ``Eta``-shaped tuples. Two walks over the supply, nothing per row
    beyond them (set-based); one walk when nothing is measured."""
    demands = list(demands)
    if not supply.promises.slips and supply.promises.lead_time is None:
        # Nothing measured: the promise is the expected date (today's rules), one walk.
        overdue = supply.promises.overdue_units
        for expected, basis, line_id in _project(demands, supply, today):
            yield (expected, _BASIS[basis], line_id, expected, None, overdue)
        return
    for (expected, _, line_id), (promise, basis, confidence) in zip(
        _project(demands, supply, today), _promised(demands, supply, today), strict=True
    ):
        yield (promise, _BASIS[basis], line_id, expected, confidence, supply.promises.overdue_units)


def eta_steps(supply: Supply, today: date) -> tuple[list[int], list[tuple]]:
    """``eta_project`` as steps over the cumulative demand: ``bounds`` (ascending) and one value per step, so that a
    cumulative demand ``d`` gets ``values[bisect_left(bounds, d)]`` (the number of bounds below it), exactly what
    ``eta_project`` gives it. Both walks take, for a demand, the first supply whose cumulative units cover it, so
    their values only change past a cumulative supply boundary (the free units, then each line's, in either walk's
    order); each step's value is ``eta_project``'s own at the step's last demand (the one source of the rules).
    Lets the database date a queue of any length without sending it here (``backorders.eta_changes``)."""
    bounds = {supply.free}
    for lines in (supply.lines, _promised_lines(supply)):
        cumulative = supply.free
        for line in lines:
            cumulative += line[2]  # the units of (id, date, units) and of (date, id, units, slip)
            bounds.add(cumulative)
    bounds = sorted(bound for bound in bounds if bound >= 1)  # a waiting backorder's cumulative demand is >= 1
    demands = [*bounds, (bounds[-1] if bounds else 0) + 1]
    return bounds, [tuple(value[:5]) for value in eta_project(demands, supply, today)]
