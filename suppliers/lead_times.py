"""What suppliers really do: lead times and date slips learned from receipts and date revisions (reads only).

The rules (docs/promises.md says the same with the formulas and examples):
- A purchase-order line is **delivered** on the day of the receipt that completed it (and a quarter, half and three
  quarters of it on the days those shares had arrived). Over the last ``ETA_HISTORY_DAYS`` (365) each delivered
  line gives one **lead time** (delivered − order date) and its **announced dates** (the original expected date,
  then each revision, with the day each was announced).
- A line still open after its expected date counts too, as a lower bound: delivered today at the earliest (a
  supplier that is late right now is not measured as if it were on time).
- A figure is **measured** for a supplier product once it has ``ETA_MIN_HISTORY`` (10) lines, else for the
  supplier over all its products once the supplier has that many, else it is not measured and the quoted date
  stands.
- An incoming line is judged by the **cases in its position**: past dates of the same kind (original or revised)
  that still stood as many days before them as the line's date is from today (for a line already late: as many
  days after them, undelivered), and, for a line nothing has arrived of, of which nothing had arrived by then. At a
  service level p, from n such cases, the days to add are their k-th smallest, k = ⌈p · (n + 1)⌉ (at most n): a new
  case stays within it with probability ≥ p whatever the distribution. Its **confidence**: the share of the cases
  within it. The same cases date each share of a line that tends to come in parts.
- Fewer than 5 such cases: every announced date's slip, weighted by the days that date stood, at the weighted
  p-quantile; a line already k days late: the cases that were at least k days late (slip − k still to wait), and
  with fewer than 3 of them, the longest delay seen minus k (at least 1 day), confidence 0.
- A new order's lead time: the weighted p-quantile of the lead times.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic

from django.conf import settings
from django.db import connection
from django.db.models import F, Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from backorders.supply import Measured, SupplyPromises

from .models import ExpectedDateRevision, PurchaseOrder, PurchaseOrderLine, ReceiptLine, SupplierProduct

CLOSED_STATUSES = (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED)
LATE_MIN_SAMPLES = 3
POSITION_MIN_SAMPLES = 5
# Partial deliveries: the first quarter, half and three quarters of a line often come before the rest, so the units
# of a line that nothing has arrived of yet are promised by share (the rest by the whole line's date).
SHARES = (0.25, 0.5, 0.75)


@dataclass
class History:
    """Samples of one supplier (product=None) or one supplier product."""

    lines: int = 0
    slips: list[tuple[int, float]] = field(default_factory=list)  # (days, weight)
    lead_times: list[tuple[int, float]] = field(default_factory=list)
    # Per line, for the cases in a line's position (``position_samples``): its announced dates ((since, date),
    # original first), the day it arrived in full (an open, overdue line: today, a lower bound), the days by which
    # each of ``SHARES`` of it had arrived, and its first receipt (None: nothing yet).
    dated: list[tuple[list[tuple[date, date]], date, tuple[date, ...], date | None]] = field(default_factory=list)
    positions: dict[tuple[int, bool, bool], list[tuple[int, tuple[int, ...]]]] = field(default_factory=dict)  # memo


def weighted_quantile(samples: list[tuple[int, float]], level: float) -> tuple[int, float]:
    """(d, share): the smallest d whose weighted share of samples ≤ d is at least ``level``, and that share."""
    ordered = sorted(samples)
    total = sum(weight for _, weight in ordered)
    running = 0.0
    for index, (days, weight) in enumerate(ordered):
        running += weight
        last_of_value = index + 1 == len(ordered) or ordered[index + 1][0] != days
        if last_of_value and running >= level * total - 1e-9:
            return days, running / total
    return ordered[-1][0], 1.0


# Learned histories per supplier, kept per process while nothing they are made of changed: the same day, no new
# receipt line, date revision or purchase-order line since (one cheap statement checks), and at most a minute old
# (a cancelled purchase order leaves no new id). An ETA recompute or an order placement then reads the history once.
_CACHE: dict[int, tuple[tuple, float, dict]] = {}
_CACHE_SECONDS = 60.0
_CACHE_SIZE = 512


def history_stamp_sql() -> tuple[str, list, int]:
    """What the cache's freshness is checked against: the last receipt line, date revision and purchase-order line
    (SQL, params, columns), for a caller that reads it in passing (``core.sql.fetch_together``)."""
    return (
        f"SELECT (SELECT max(id) FROM {ReceiptLine._meta.db_table}),"
        f" (SELECT max(id) FROM {ExpectedDateRevision._meta.db_table}),"
        f" (SELECT max(id) FROM {PurchaseOrderLine._meta.db_table})",
        [],
        3,
    )


def history_stamp(today: date, row) -> tuple:
    """The cache stamp from ``history_stamp_sql``'s row (ids as read: numbers or texts)."""
    return (today, *(None if value is None else int(value) for value in row))


def _stamp(today: date) -> tuple:
    sql, params, _ = history_stamp_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return history_stamp(today, cursor.fetchone())


def supplier_histories(
    *, supplier_ids, today: date, stamp: tuple | None = None
) -> dict[tuple[int, int | None], History]:
    """Samples per (supplier, product) and per (supplier, None): cached per supplier (see ``_CACHE``); what is
    missing is read with three queries whatever the history. ``stamp``: ``history_stamp`` read in passing."""
    ids = sorted(set(supplier_ids))
    if not ids:
        return {}
    stamp = stamp or _stamp(today)
    now = monotonic()
    fresh = {i for i in ids if i in _CACHE and _CACHE[i][0] == stamp and now - _CACHE[i][1] < _CACHE_SECONDS}
    missing = [i for i in ids if i not in fresh]
    read = _read_histories(missing, today) if missing else {}
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.clear()
    for supplier_id in missing:
        _CACHE[supplier_id] = (stamp, now, {k: v for k, v in read.items() if k[0] == supplier_id})
    histories: dict[tuple[int, int | None], History] = {}
    for supplier_id in ids:
        histories.update(_CACHE[supplier_id][2])
    return histories


def _read_histories(ids: list[int], today: date) -> dict[tuple[int, int | None], History]:
    histories: dict[tuple[int, int | None], History] = defaultdict(History)
    start = today - timedelta(days=settings.OMS["ETA_HISTORY_DAYS"])
    delivered = list(
        PurchaseOrderLine.objects.filter(purchase_order__supplier_id__in=ids, quantity_received=F("quantity_ordered"))
        .exclude(purchase_order__status__in=CLOSED_STATUSES)
        .annotate(delivered_at=Max("receipt_lines__receipt__received_at"))
        .filter(delivered_at__gte=timezone.make_aware(datetime.combine(start, time.min)))
        .annotate(delivered_on=TruncDate("delivered_at"))  # the local day, computed by the database
        .values_list(
            "pk",
            "product_id",
            "purchase_order__supplier_id",
            "purchase_order__order_date",
            "original_expected_date",
            "delivered_on",
            "quantity_ordered",
        )  # fmt: skip
    )
    overdue = list(
        PurchaseOrderLine.objects.filter(
            purchase_order__supplier_id__in=ids,
            purchase_order__status__in=PurchaseOrder.INCOMING,
            quantity_received__lt=F("quantity_ordered"),
            expected_date__lt=today,
        ).values_list(
            "pk",
            "product_id",
            "purchase_order__supplier_id",
            "purchase_order__order_date",
            "original_expected_date",
            "quantity_ordered",
        )  # fmt: skip
    )
    line_ids = [row[0] for row in delivered + overdue]
    receipts: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for line_id, received_on, quantity in (
        ReceiptLine.objects.filter(purchase_order_line_id__in=line_ids)
        .order_by("receipt__received_at", "id")
        .values_list("purchase_order_line_id", TruncDate("receipt__received_at"), "quantity")
    ):
        receipts[line_id].append((received_on, quantity))
    revisions: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for line_id, new_date, created_on in (
        ExpectedDateRevision.objects.filter(line_id__in=line_ids)
        .order_by("created_at", "id")
        .values_list("line_id", "new_date", TruncDate("created_at"))
    ):
        revisions[line_id].append((created_on, new_date))

    def add(pk, supplier_id, product_id, announced, arrived, ordered, quantity):
        slips = _slips(announced, until=arrived, arrived=arrived)
        dated = (announced, arrived, *_shares_reached(receipts[pk], quantity, arrived))
        for key in ((supplier_id, product_id), (supplier_id, None)):
            history = histories[key]
            history.lines += 1
            history.slips.extend(slips)
            history.lead_times.append(((arrived - ordered).days, 1.0))
            history.dated.append(dated)

    for pk, product_id, supplier_id, ordered, original, on, quantity in delivered:
        add(pk, supplier_id, product_id, _announced(ordered, original, revisions[pk], on), on, ordered, quantity)
    for pk, product_id, supplier_id, ordered, original, quantity in overdue:
        add(pk, supplier_id, product_id, _announced(ordered, original, revisions[pk], today), today, ordered, quantity)
    return dict(histories)


def _shares_reached(receipts: list[tuple[date, int]], quantity: int, arrived: date) -> tuple[tuple, date | None]:
    """The days by which each of ``SHARES`` of a line had arrived (not yet: ``arrived``, the full line's day or, for
    an open line, today), and the day of its first receipt."""
    reached = []
    for share in SHARES:
        day = arrived
        running = 0
        for received_on, units in receipts:
            running += units
            if running >= share * quantity:
                day = min(received_on, arrived)
                break
        reached.append(day)
    return tuple(reached), (receipts[0][0] if receipts else None)


def _announced(ordered: date, original: date, revisions, until: date) -> list[tuple[date, date]]:
    """(since, date) of every date the supplier announced for a line up to ``until``: the original, then revisions."""
    return [(ordered, original)] + [(on, new) for on, new in revisions if on <= until]


def _slips(announced, *, until: date, arrived: date) -> list[tuple[int, float]]:
    """One (slip, weight) per announced date: arrived − date, weighted by the days it stood (at least one)."""
    samples = []
    for index, (since, announced_date) in enumerate(announced):
        end = announced[index + 1][0] if index + 1 < len(announced) else until
        samples.append(((arrived - announced_date).days, float(max(1, (end - since).days))))
    return samples


def position_samples(
    history: History, *, days_to_go: int, revised: bool, fresh: bool = False
) -> list[tuple[int, tuple[int, ...]]]:
    """The cases in a line's position: past dates of the same kind (the original date, or a revision) that still
    stood ``days_to_go`` days before them (or, for a line already late, that many days after them, not delivered)
    and, for a line nothing has arrived of (``fresh``), of which nothing had arrived by then. Each case: the days
    from then to the delivery in full (from the date itself when it was still ahead) and to each of ``SHARES``.
    Memoised."""
    key = (days_to_go, revised, fresh)
    if key in history.positions:
        return history.positions[key]
    samples = []
    for announced, arrived, reached, first_receipt in history.dated:
        for index, (since, announced_date) in enumerate(announced):
            if (index > 0) != revised:
                continue
            moment = announced_date - timedelta(days=days_to_go)
            end = announced[index + 1][0] if index + 1 < len(announced) else arrived
            if since <= moment < end and not (fresh and first_receipt is not None and first_receipt <= moment):
                start = max(announced_date, moment)
                samples.append(((arrived - start).days, tuple((day - start).days for day in reached)))
    history.positions[key] = samples
    return samples


def _measure_position(
    histories, supplier_id: int, product_id: int, level: float, *, days_to_go: int, revised: bool, fresh: bool
) -> tuple[Measured, tuple[Measured, ...]] | None:
    """A line's slip measured on the cases in its position (``position_samples``): the days to add to its date (to
    today for a line already late) at ``level``, for the whole line and (``fresh``) for each of ``SHARES`` of it.
    None when fewer than ``POSITION_MIN_SAMPLES`` such cases."""
    minimum = settings.OMS["ETA_MIN_HISTORY"]
    for key, scope in (((supplier_id, product_id), "supplier product"), ((supplier_id, None), "supplier")):
        history = histories.get(key)
        if history is None or history.lines < minimum:
            continue
        samples = position_samples(history, days_to_go=days_to_go, revised=revised, fresh=fresh)
        if len(samples) < POSITION_MIN_SAMPLES:
            continue
        shares = ()
        if fresh:
            shares = tuple(_quantile([s[1][i] for s in samples], level, scope) for i in range(len(SHARES)))
        return _quantile([sample[0] for sample in samples], level, scope), shares
    return None


def _quantile(values: list[int], level: float, scope: str) -> Measured:
    """The days a new case stays within with probability ``level``, from n past cases: their k-th smallest, k =
    ⌈level · (n + 1)⌉ (at most n), which a new case exceeds with probability 1 − k / (n + 1) whatever the
    distribution; confidence: the share of the past cases within it."""
    ordered = sorted(values)
    days = ordered[min(len(ordered), math.ceil(level * (len(ordered) + 1) - 1e-9)) - 1]
    share = sum(1 for value in ordered if value <= days) / len(ordered)
    return Measured(days=days, confidence=math.floor(share * 1000) / 1000, samples=len(values), scope=scope)


def _measure(
    histories, supplier_id: int, product_id: int, level: float, kind: str, late_by: int = 0
) -> Measured | None:
    """The measured figure at ``level``; for a line already ``late_by`` days past its date, from the cases that were
    at least that late (the days still to wait: slip − late_by), since a line that is late tends to stay late."""
    minimum = settings.OMS["ETA_MIN_HISTORY"]
    for key, scope in (((supplier_id, product_id), "supplier product"), ((supplier_id, None), "supplier")):
        history = histories.get(key)
        if history is None or history.lines < minimum:
            continue
        samples = getattr(history, kind)
        if late_by > 0:
            later = [(days - late_by, weight) for days, weight in samples if days >= late_by]
            if len(later) < LATE_MIN_SAMPLES:  # hardly ever this late: the longest delay seen, still to come
                return Measured(days=max(1, max(d for d, _ in samples) - late_by), confidence=0.0,
                                samples=len(later), scope=scope)  # fmt: skip
            samples = later
        days, share = weighted_quantile(samples, level)
        return Measured(days=days, confidence=math.floor(share * 1000) / 1000, samples=history.lines, scope=scope)
    return None


def product_promises(product_id: int, service_level: float, today: date) -> SupplyPromises:
    """The supply port's learned figures for a product: a measured slip per incoming line, and the measured lead
    time of the supplier a new order would go to (the preferred one; without one, every active supplier of the
    product is considered and the one that promises soonest wins)."""
    open_lines = list(
        PurchaseOrderLine.objects.filter(
            product_id=product_id,
            purchase_order__status__in=PurchaseOrder.INCOMING,
            quantity_received__lt=F("quantity_ordered"),
        ).values_list(
            "pk",
            "purchase_order__supplier_id",
            "expected_date",
            "original_expected_date",
            "quantity_ordered",
            "quantity_received",
        )  # fmt: skip
    )
    candidates = list(
        SupplierProduct.objects.filter(product_id=product_id, supplier__is_active=True).values_list(
            "supplier_id", "preferred"
        )
    )
    histories = supplier_histories(
        supplier_ids=[line[1] for line in open_lines] + [s for s, _ in candidates], today=today
    )
    return promises_from(product_id, open_lines, candidates, histories, service_level, today)


def promises_from(product_id: int, open_lines, candidates, histories, service_level: float, today: date):
    """``product_promises`` from what was read: the product's open lines (id, supplier, expected date, original
    date, ordered, received), its active suppliers (supplier, preferred) and their histories."""
    slips = {}
    shares = {}
    for line_id, supplier_id, expected, original, _, received in open_lines:
        # The cases in the line's position first; too few of them: every case (a late line: those as late).
        position = _measure_position(
            histories, supplier_id, product_id, service_level, days_to_go=(expected - today).days,
            revised=expected != original, fresh=received == 0,
        )  # fmt: skip
        if position is not None:
            slips[line_id] = position[0]
            if position[1]:
                shares[line_id] = tuple(zip(SHARES, position[1], strict=True))
            continue
        measured = _measure(
            histories, supplier_id, product_id, service_level, "slips", late_by=max(0, (today - expected).days)
        )
        if measured is not None:
            slips[line_id] = measured
    preferred = [supplier_id for supplier_id, is_preferred in candidates if is_preferred]
    lead_time = None
    if preferred:
        lead_time = _measure(histories, preferred[0], product_id, service_level, "lead_times")
    else:
        measured = [_measure(histories, s, product_id, service_level, "lead_times") for s, _ in candidates]
        measured = [m for m in measured if m is not None]
        lead_time = min(measured, key=lambda m: (m.days, -m.confidence)) if measured else None
    overdue = sum(ordered - received for _, _, _, original, ordered, received in open_lines if original <= today)
    return SupplyPromises(slips=slips, lead_time=lead_time, overdue_units=overdue, shares=shares)


def supplier_lead_time_profile(*, supplier_ids=None, service_level: float | None = None) -> dict[int, dict]:
    """Per supplier, its measured lead time and slip at the service level (for the scorecard and the docs)."""
    level = service_level or settings.OMS["ETA_SERVICE_LEVEL"]
    today = timezone.localdate()
    if supplier_ids is None:
        supplier_ids = PurchaseOrder.objects.values_list("supplier_id", flat=True).distinct()
    histories = supplier_histories(supplier_ids=list(supplier_ids), today=today)
    profile = {}
    for (supplier_id, product_id), history in histories.items():
        if product_id is not None:
            continue
        slip = _measure(histories, supplier_id, 0, level, "slips")
        lead = _measure(histories, supplier_id, 0, level, "lead_times")
        profile[supplier_id] = {
            "lines": history.lines,
            "slip_days": slip.days if slip else None,
            "lead_time_days": lead.days if lead else None,
            "confidence": slip.confidence if slip else None,
        }
    return profile
