"""Every dashboard KPI, defined once. The overview page and ``GET /api/v1/metrics/`` both read from here.

All numbers are computed by the database (aggregates over indexed ranges); Python only walks the
handful of result rows (one per day, bucket or product), never orders.

A *period* of N days is the half-open window ``[now − N days, now)``; the *previous period* is the N
days before it. "Closed" means a backorder stopped waiting: allocated (stock reserved), fulfilled
or cancelled — whichever happened first.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from backorders.models import Backorder

from .periods import AGING_BUCKETS, CLOSED_AT, MONEY, OUTSTANDING, PERIODS, Kpi, Period, _days, _ratio  # noqa: F401
from .series import (  # noqa: F401
    aging_buckets,
    daily_flows,
    open_backorders,
    open_backorders_at,
    open_value_per_day,
    opened_closed_per_day,
    top_backordered_products,
)

# --- the building blocks, one query each ----------------------------------------------------------


def placement_counts_pair(period: Period) -> tuple[dict, dict]:
    """Order lines and units ordered in the period and in the previous one, and how many of them went on
    backorder at once — two queries for both periods.

    Order ids grow with placement time, so the orders of both periods lie in one id range: bounding the
    order lines by it lets PostgreSQL read them from ``orderline_order_qty_idx`` (index-only) instead of
    scanning every line. The exact ``placed_at`` test still decides which period a line belongs to.
    """
    from django.db.models import Max, Min

    from orders.models import Order, OrderLine

    prev = period.previous
    # "id + 0" stops PostgreSQL's MIN/MAX shortcut (walking the primary key from one end and filtering on
    # placed_at, which reads most of the table); this way it reads the placed_at range of order_placed_id_idx.
    bounds = Order.objects.filter(placed_at__gte=prev.start, placed_at__lt=period.end).aggregate(
        lo=Min(F("id") + 0), hi=Max(F("id") + 0)
    )
    in_current = Q(order__placed_at__gte=period.start)
    lines = {"cur_lines": 0, "cur_units": 0, "prev_lines": 0, "prev_units": 0}
    if bounds["lo"] is not None:
        lines = OrderLine.objects.filter(
            order_id__gte=bounds["lo"],
            order_id__lte=bounds["hi"],
            order__placed_at__gte=prev.start,
            order__placed_at__lt=period.end,
        ).aggregate(
            # Count("quantity") (never null) rather than Count("id"): the covering index has no id.
            cur_lines=Count("quantity", filter=in_current),
            cur_units=Coalesce(Sum("quantity", filter=in_current), 0),
            prev_lines=Count("quantity", filter=~in_current),
            prev_units=Coalesce(Sum("quantity", filter=~in_current), 0),
        )
    # A backorder is created in the same transaction as its order (created_at = placement time).
    current = Q(created_at__gte=period.start)
    backordered = Backorder.objects.filter(created_at__gte=prev.start, created_at__lt=period.end).aggregate(
        cur_lines=Count("id", filter=current),
        cur_units=Coalesce(Sum("quantity", filter=current), 0),
        prev_lines=Count("id", filter=~current),
        prev_units=Coalesce(Sum("quantity", filter=~current), 0),
    )
    return tuple(
        {
            "lines": lines[f"{p}_lines"],
            "units": lines[f"{p}_units"],
            "backordered_lines": backordered[f"{p}_lines"],
            "backordered_units": backordered[f"{p}_units"],
        }
        for p in ("cur", "prev")
    )


def placement_counts(period: Period) -> dict:
    return placement_counts_pair(period)[0]


def _duration(end_field: str):
    return ExpressionWrapper(F(end_field) - F("created_at"), output_field=DurationField())


class PercentileDisc(Aggregate):
    """PostgreSQL ``percentile_disc(f) WITHIN GROUP (ORDER BY expr)``: exactly the nearest-rank percentile."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def duration_stats(period: Period, *, end_field: str) -> dict:
    """Average and 90th percentile (nearest rank) of created → ``end_field`` for backorders that reached
    ``end_field`` within the period."""
    return duration_stats_pair(period, end_field=end_field)[0]


def duration_stats_pair(period: Period, *, end_field: str) -> tuple[dict, dict]:
    """``duration_stats`` of the period and of the previous one. On PostgreSQL one query for both; elsewhere
    the percentile is read by rank from a sorted query."""
    prev = period.previous
    qs = Backorder.objects.filter(**{f"{end_field}__gte": prev.start, f"{end_field}__lt": period.end})
    current = Q(**{f"{end_field}__gte": period.start})
    aggregates = {
        "n_cur": Count("id", filter=current),
        "avg_cur": _avg_duration(end_field, filter=current),
        "n_prev": Count("id", filter=~current),
        "avg_prev": _avg_duration(end_field, filter=~current),
    }
    if connection.vendor == "postgresql":
        aggregates["p90_cur"] = PercentileDisc(
            _duration(end_field), fraction=0.9, filter=current, output_field=DurationField()
        )
        aggregates["p90_prev"] = PercentileDisc(
            _duration(end_field), fraction=0.9, filter=~current, output_field=DurationField()
        )
    stats = qs.aggregate(**aggregates)
    results = []
    for key, condition in (("cur", current), ("prev", ~current)):
        n = stats[f"n_{key}"]
        p90 = stats.get(f"p90_{key}")
        if n and f"p90_{key}" not in stats:
            rank = math.ceil(0.9 * n)  # nearest-rank percentile: the smallest value with ≥ 90 % at or below it
            p90 = (
                qs.filter(condition)
                .annotate(d=_duration(end_field))
                .order_by("d")
                .values_list("d", flat=True)[rank - 1]
            )
        results.append({"count": n, "avg_days": _days(stats[f"avg_{key}"]), "p90_days": _days(p90 if n else None)})
    return results[0], results[1]


def _avg_duration(end_field: str, **extra):
    return Avg(_duration(end_field), **extra)


def on_time_promise(period: Period) -> dict:
    """Of the backorders allocated in the period that had been given a date, how many were allocated by the
    first date promised."""
    row = Backorder.objects.filter(
        allocated_at__gte=period.start, allocated_at__lt=period.end, eta_first__isnull=False
    ).aggregate(
        promised=Count("id"),
        on_time=Count("id", filter=Q(eta_first__gte=TruncDate("allocated_at"))),
    )
    return row


def notification_counts(period: Period) -> dict:
    from notifications.models import Notification

    row = Notification.objects.filter(created_at__gte=period.start, created_at__lt=period.end).aggregate(
        sent=Count("id", filter=Q(status=Notification.Status.SENT)),
        failed=Count("id", filter=Q(status=Notification.Status.FAILED)),
    )
    return row


def sla_breaches(*, now: datetime) -> int:
    """Waiting backorders past their SLA ship-by date: marked by the sweep, or due and not yet swept."""
    return Backorder.objects.filter(Q(sla_breached=True) | Q(sla_due_at__lte=now), status__in=Backorder.WAITING).count()


# --- the KPI cards ---------------------------------------------------------------------------------


def kpis(*, days: int = 30, now: datetime | None = None) -> list[Kpi]:
    period = Period.last(days, now=now)
    prev = period.previous
    cur_p, prev_p = placement_counts_pair(period)
    cur_alloc, prev_alloc = duration_stats_pair(period, end_field="allocated_at")
    cur_ful, prev_ful = duration_stats_pair(period, end_field="fulfilled_at")
    open_now, open_then = open_backorders(), open_backorders_at(period.start)
    cur_ot, prev_ot = on_time_promise(period), on_time_promise(prev)
    cur_n, prev_n = notification_counts(period), notification_counts(prev)
    breaches = sla_breaches(now=period.end)

    def fill(p):
        return _ratio(p["lines"] - p["backordered_lines"], p["lines"]) if p["lines"] else None

    return [
        Kpi("backorder_rate_units", "Backorder rate (units)",
            "Share of units ordered in the period that could not be allocated at once and went on backorder.",
            "percent", _ratio(cur_p["backordered_units"], cur_p["units"]),
            _ratio(prev_p["backordered_units"], prev_p["units"]), False),
        Kpi("backorder_rate_lines", "Backorder rate (lines)",
            "Share of order lines placed in the period that went (fully or partly) on backorder.",
            "percent", _ratio(cur_p["backordered_lines"], cur_p["lines"]),
            _ratio(prev_p["backordered_lines"], prev_p["lines"]), False),
        Kpi("line_fill_rate", "Line fill rate",
            "Share of order lines placed in the period that were filled completely from stock at once.",
            "percent", fill(cur_p), fill(prev_p), True),
        Kpi("time_to_allocate_avg", "Avg time to allocate",
            "Average days from backorder to stock reserved, for backorders allocated in the period.",
            "days", cur_alloc["avg_days"], prev_alloc["avg_days"], False),
        Kpi("time_to_allocate_p90", "P90 time to allocate",
            "90 % of backorders allocated in the period waited at most this many days (nearest rank).",
            "days", cur_alloc["p90_days"], prev_alloc["p90_days"], False),
        Kpi("time_to_fulfil_avg", "Avg time to fulfil",
            "Average days from backorder to shipped, for backorders fulfilled in the period.",
            "days", cur_ful["avg_days"], prev_ful["avg_days"], False),
        Kpi("time_to_fulfil_p90", "P90 time to fulfil",
            "90 % of backorders fulfilled in the period took at most this many days to ship (nearest rank).",
            "days", cur_ful["p90_days"], prev_ful["p90_days"], False),
        Kpi("open_backorders", "Open backorders",
            "Backorders waiting for stock now (change: against the start of the period).",
            "count", open_now["count"], open_then["count"], False),
        Kpi("open_units", "Open backordered units",
            "Units still missing on waiting backorders now (then: full backordered quantity of those waiting).",
            "units", open_now["units"], open_then["units"], False),
        Kpi("open_value", "Cash tied up",
            "Value of the missing units at the order price — revenue waiting on stock.",
            "money", open_now["value"], open_then["value"], False),
        Kpi("sla_breaches", "SLA breaches",
            "Backorders still waiting after the ship-by date of the customer's terms (now; no comparison).",
            "count", breaches, None, False),
        Kpi("on_time_promise_rate", "On-time promise rate",
            "Of backorders allocated in the period that had a promised date, the share allocated by the first one.",
            "percent", _ratio(cur_ot["on_time"], cur_ot["promised"]), _ratio(prev_ot["on_time"], prev_ot["promised"]),
            True),
        Kpi("notifications_sent", "Notifications sent",
            "Customer messages (email or webhook) created in the period and delivered.",
            "count", cur_n["sent"], prev_n["sent"], None),
        Kpi("notifications_failed", "Notifications failed",
            "Customer messages created in the period that gave up after every retry.",
            "count", cur_n["failed"], prev_n["failed"], False),
    ]  # fmt: skip


def metrics_payload(*, days: int = 30, now: datetime | None = None) -> dict:
    """Everything the overview shows, as plain JSON-able data (used by the metrics API)."""
    now = now or timezone.now()
    period = Period.last(days, now=now)
    flows = daily_flows(period)
    return {
        "days": days,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "previous_period": {"start": period.previous.start.isoformat(), "end": period.previous.end.isoformat()},
        "kpis": {k.key: k.as_dict() for k in kpis(days=days, now=now)},
        "charts": {
            "opened_closed_per_day": [
                {**row, "day": row["day"].isoformat()} for row in opened_closed_per_day(days=days, now=now, flows=flows)
            ],
            "open_value_per_day": [
                {"day": row["day"].isoformat(), "value": str(row["value"])}
                for row in open_value_per_day(days=days, now=now, flows=flows)
            ],
            "aging_buckets": aging_buckets(now=now),
            "top_products": [
                {
                    "sku": r["product__sku"],
                    "name": r["product__name"],
                    "units": r["units"],
                    "backorders": r["backorders"],
                }
                for r in top_backordered_products()
            ],
        },
    }
