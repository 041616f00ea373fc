"""Staff dashboard page: the cost of backorders over a date range (dashboard/costs.py), with its CSV export."""

from __future__ import annotations

from datetime import date, timedelta

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.costs import FIELDS, GROUPS, backorder_cost_report
from dashboard.exports import csv_response, wants_csv

DEFAULT_DAYS = 30


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@require_GET
def backorder_cost(request):
    """``?start=&end=`` (ISO days; default the last 30 days) and ``?group_by=`` product | supplier | reason | channel.
    A bad value falls back to the default (the page always answers); the API refuses it instead."""
    today = timezone.localdate()
    end = _day(request.GET.get("end"), today)
    start = _day(request.GET.get("start"), end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end or (end - start).days > 3660:
        start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
    group_by = request.GET.get("group_by") if request.GET.get("group_by") in GROUPS else "product"
    report = backorder_cost_report(start=start, end=end, group_by=group_by)
    if wants_csv(request):
        data = [[group_by, *FIELDS]]
        data += [["" if row["key"] is None else row["key"], *(row[f] for f in FIELDS)] for row in report["rows"]]
        data.append(["total", *(report["totals"][f] for f in FIELDS)])
        return csv_response(f"backorder-cost-{group_by}-{start:%Y%m%d}-{end:%Y%m%d}.csv", data)
    return render(request, "dashboard/backorder_cost.html", {"report": report, "groups": GROUPS})
