"""The dashboard's time series and breakdowns (charts): daily flows, open value per day, aging, top products."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from backorders.models import Backorder

from .periods import AGING_BUCKETS, CLOSED_AT, MONEY, OUTSTANDING, Period


def open_backorders() -> dict:
    """Backorders waiting right now: how many, units still missing, and their value at the order price."""
    row = Backorder.objects.filter(status__in=Backorder.WAITING).aggregate(
        count=Count("id"),
        units=Coalesce(Sum(OUTSTANDING), 0),
        value=Coalesce(
            Sum(ExpressionWrapper(OUTSTANDING * F("order_line__unit_price"), output_field=MONEY)),
            Value(Decimal("0")),
            output_field=MONEY,
        ),
    )
    return {"count": row["count"], "units": row["units"], "value": Decimal(row["value"]).quantize(Decimal("0.01"))}


def open_backorders_at(moment: datetime) -> dict:
    """Backorders that were waiting at ``moment`` (created before, not yet closed), at their full backordered
    quantity — the best the history allows (partial allocations are not dated)."""
    row = (
        Backorder.objects.filter(created_at__lt=moment)
        .annotate(closed_at=CLOSED_AT)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=moment))
        .aggregate(
            count=Count("id"),
            units=Coalesce(Sum("quantity"), 0),
            value=Coalesce(
                Sum(ExpressionWrapper(F("quantity") * F("order_line__unit_price"), output_field=MONEY)),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
        )
    )
    return {"count": row["count"], "units": row["units"], "value": Decimal(row["value"]).quantize(Decimal("0.01"))}


def _day_range(period: Period) -> list[date]:
    first = timezone.localdate(period.start)
    last = timezone.localdate(period.end)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def daily_flows(period: Period) -> dict:
    """Backorders opened (created) and closed (allocated, fulfilled or cancelled) per calendar day of the period,
    counted and valued (full backordered quantity × order price): one grouped query each way."""
    value_expr = ExpressionWrapper(F("quantity") * F("order_line__unit_price"), output_field=MONEY)
    opened = {
        row["day"]: (row["n"], row["v"])
        for row in Backorder.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"), v=Sum(value_expr))
    }
    closed = {
        row["day"]: (row["n"], row["v"])
        for row in Backorder.objects.annotate(closed_at=CLOSED_AT)
        .filter(closed_at__gte=period.start, closed_at__lt=period.end)
        .annotate(day=TruncDate("closed_at"))
        .values("day")
        .annotate(n=Count("id"), v=Sum(value_expr))
    }
    return {"opened": opened, "closed": closed}


def opened_closed_per_day(*, days: int = 30, now: datetime | None = None, flows: dict | None = None) -> list[dict]:
    """Backorders opened (created) and closed (allocated, fulfilled or cancelled) per calendar day."""
    period = Period.last(days, now=now)
    flows = flows or daily_flows(period)
    opened, closed = flows["opened"], flows["closed"]
    return [
        {"day": d, "opened": opened.get(d, (0, 0))[0], "closed": closed.get(d, (0, 0))[0]} for d in _day_range(period)
    ]


def open_value_per_day(*, days: int = 30, now: datetime | None = None, flows: dict | None = None) -> list[dict]:
    """Value of backorders open at the end of each day (full backordered quantity × order price).

    Walks back from today's open value with the value opened and closed per day (one grouped query each),
    so the cost does not grow with the number of days.
    """
    period = Period.last(days, now=now)
    flows = flows or daily_flows(period)
    current = open_backorders_at(period.end)["value"]
    points = []
    value = Decimal(current)
    for day in reversed(_day_range(period)):
        points.append({"day": day, "value": value.quantize(Decimal("0.01"))})
        # The value at the end of the day before = this day's end − opened today + closed today.
        value = (
            value
            - Decimal(flows["opened"].get(day, (0, 0))[1] or 0)
            + Decimal(flows["closed"].get(day, (0, 0))[1] or 0)
        )
    points.reverse()
    return points


def aging_buckets(*, now: datetime | None = None) -> list[dict]:
    """Waiting backorders by age (days since created): 0–7, 8–14, 15–30, >30."""
    now = now or timezone.now()
    whens = []
    for index, (_, low, high) in enumerate(AGING_BUCKETS):
        # Age in whole days d is in [low, high] ⇔ created_at in (now − (high+1) days, now − low days].
        condition = Q(created_at__lte=now - timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=now - timedelta(days=high + 1))
        whens.append(When(condition, then=Value(index)))
    rows = dict(
        Backorder.objects.filter(status__in=Backorder.WAITING)
        .annotate(bucket=Case(*whens, default=Value(0), output_field=IntegerField()))
        .values("bucket")
        .annotate(n=Count("id"), units=Sum(OUTSTANDING))
        .values_list("bucket", "n")
    )
    return [{"label": label, "count": rows.get(i, 0)} for i, (label, _, _) in enumerate(AGING_BUCKETS)]


def top_backordered_products(*, limit: int = 10) -> list[dict]:
    """Products with the most units waiting on backorder now."""
    return list(
        Backorder.objects.filter(status__in=Backorder.WAITING)
        .values("product_id", "product__sku", "product__name")
        .annotate(units=Sum(OUTSTANDING), backorders=Count("id"))
        .order_by("-units", "product__sku")[:limit]
    )
