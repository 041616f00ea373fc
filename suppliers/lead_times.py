"""What suppliers really do: lead times and date slips learned from receipts and date revisions (reads only).

The rules (docs/promises.md says the same with the formulas and an example):
- A purchase-order line is **delivered** on the day of the receipt that completed it. Over the last
  ``ETA_HISTORY_DAYS`` (365) each delivered line gives one **lead time** (delivered − order date) and one **slip**
  per date the supplier announced for it (the original expected date, then each revision): delivered − that date,
  weighted by the days that date stood (a date that stood 20 days could have been promised on 20 days).
- A line still open after its expected date counts too, as a lower bound: slip today − expected date, lead time
  today − order date (a supplier that is late right now is not measured as if it were on time).
- A figure is **measured** for a supplier product once it has ``ETA_MIN_HISTORY`` (10) lines, else for the
  supplier over all its products once the supplier has that many, else it is not measured and the quoted date
  stands.
- At a service level p (0.9), the measured figure is the smallest number of days d such that the (weighted)
  share of samples ≤ d is at least p; that share is its **confidence**.
- A line already k days past its expected date is measured on the cases that were at least k days late (the
  days still to wait: slip − k); with fewer than 3 of them, the longest delay seen minus k (at least 1 day),
  confidence 0 (nothing that late was ever measured often enough to say more).
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
from django.utils import timezone

from backorders.supply import Measured, SupplyPromises

from .models import ExpectedDateRevision, PurchaseOrder, PurchaseOrderLine, ReceiptLine, SupplierProduct

CLOSED_STATUSES = (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED)
LATE_MIN_SAMPLES = 3


@dataclass
class History:
    """Samples of one supplier (product=None) or one supplier product."""

    lines: int = 0
    slips: list[tuple[int, float]] = field(default_factory=list)  # (days, weight)
    lead_times: list[tuple[int, float]] = field(default_factory=list)


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


def _day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


# Learned histories per supplier, kept per process while nothing they are made of changed: the same day, no new
# receipt line, date revision or purchase-order line since (one cheap statement checks), and at most a minute old
# (a cancelled purchase order leaves no new id). An ETA recompute or an order placement then reads the history once.
_CACHE: dict[int, tuple[tuple, float, dict]] = {}
_CACHE_SECONDS = 60.0
_CACHE_SIZE = 512


def _stamp(today: date) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(id) FROM {ReceiptLine._meta.db_table}),"
            f" (SELECT max(id) FROM {ExpectedDateRevision._meta.db_table}),"
            f" (SELECT max(id) FROM {PurchaseOrderLine._meta.db_table})"
        )
        return (today, *cursor.fetchone())


def supplier_histories(*, supplier_ids, today: date) -> dict[tuple[int, int | None], History]:
    """Samples per (supplier, product) and per (supplier, None): cached per supplier (see ``_CACHE``); what is
    missing is read with three queries whatever the history."""
    ids = sorted(set(supplier_ids))
    if not ids:
        return {}
    stamp = _stamp(today)
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
        .values_list(
            "pk",
            "product_id",
            "purchase_order__supplier_id",
            "purchase_order__order_date",
            "original_expected_date",
            "delivered_at",
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
            "expected_date",
        )  # fmt: skip
    )
    revisions: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for line_id, new_date, created_at in (
        ExpectedDateRevision.objects.filter(line_id__in=[row[0] for row in delivered + overdue])
        .order_by("created_at", "id")
        .values_list("line_id", "new_date", "created_at")
    ):
        revisions[line_id].append((_day(created_at), new_date))

    def add(supplier_id, product_id, slips, lead_time):
        for key in ((supplier_id, product_id), (supplier_id, None)):
            history = histories[key]
            history.lines += 1
            history.slips.extend(slips)
            history.lead_times.append((lead_time, 1.0))

    for pk, product_id, supplier_id, ordered, original, delivered_at in delivered:
        on = _day(delivered_at)
        add(
            supplier_id, product_id, _slips(ordered, original, revisions[pk], until=on, arrived=on), (on - ordered).days
        )
    for pk, product_id, supplier_id, ordered, original, _expected in overdue:
        add(supplier_id, product_id, _slips(ordered, original, revisions[pk], until=today, arrived=today),
            (today - ordered).days)  # fmt: skip
    return dict(histories)


def _slips(ordered: date, original: date, revisions, *, until: date, arrived: date) -> list[tuple[int, float]]:
    """One (slip, weight) per announced date: arrived − date, weighted by the days it stood (at least one)."""
    announced = [(ordered, original)] + [(on, new) for on, new in revisions if on <= until]
    samples = []
    for index, (since, announced_date) in enumerate(announced):
        end = announced[index + 1][0] if index + 1 < len(announced) else until
        samples.append(((arrived - announced_date).days, float(max(1, (end - since).days))))
    return samples


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
    slips = {}
    for line_id, supplier_id, expected, *_ in open_lines:
        late_by = max(0, (today - expected).days)
        measured = _measure(histories, supplier_id, product_id, service_level, "slips", late_by=late_by)
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
    return SupplyPromises(slips=slips, lead_time=lead_time, overdue_units=overdue)


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
