"""Reads of the staff dashboard: the overview's figures (computed and cached in one place) and the backorder
queue's sort orders, row query and CSV rows. The queue's filter form is in ``dashboard.filters``."""

from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache
from django.db.models import DecimalField, ExpressionWrapper, F
from django.utils import timezone

from backorders.models import Backorder
from backorders.queue import QUEUE_ORDER

from . import charts, metrics

SORTS = {
    "queue": ("Allocation order", QUEUE_ORDER),
    "oldest": ("Oldest first", ("created_at", "id")),
    "newest": ("Newest first", ("-created_at", "-id")),
    "eta": ("ETA (soonest)", (F("eta").asc(nulls_last=True), "id")),
    "sla": ("SLA due (soonest)", (F("sla_due_at").asc(nulls_last=True), "id")),
    "value": ("Value (highest)", ("-value", "id")),
    "units": ("Units waiting (most)", ("-outstanding", "id")),
}
# "Waiting" is open + partially allocated; "all" is the filter's "any status".
STATUS_CHOICES = [("waiting", "Waiting"), *Backorder.Status.choices, ("all", "Any status")]


def row_annotations() -> dict:
    """Units still waiting and their value at the order price (the value needs the order line)."""
    outstanding = F("quantity") - F("quantity_allocated") - F("quantity_cancelled")
    return {
        "outstanding": outstanding,
        "value": ExpressionWrapper(
            outstanding * F("order_line__unit_price"), output_field=DecimalField(max_digits=18, decimal_places=2)
        ),
    }


def queue_rows():
    """Backorders with everything a queue row shows, in one query."""
    return Backorder.objects.select_related(
        "order", "order__customer", "order__channel", "product", "eta_purchase_order_line__purchase_order"
    ).annotate(**row_annotations())


def queue_sorted(queryset, sort: str):
    return queryset.order_by(*SORTS.get(sort, SORTS["queue"])[1])


CSV_HEADER = [
    "backorder", "order", "placed_at", "customer_email", "tier", "channel", "sku", "product", "quantity",
    "waiting", "unit_price", "value", "priority", "status", "reason", "created_at", "eta", "eta_basis",
    "covered_by_po",
]  # fmt: skip


VALUE = CSV_HEADER.index("value")
CENT = Decimal("0.01")


def queue_csv_rows(queryset):
    """Rows for the CSV export, streamed in chunks (no model instances)."""
    yield CSV_HEADER
    for row in queryset.values_list(
        "id", "order__number", "placed_at", "order__customer__email", "order__customer__tier", "order__channel__code",
        "product__sku", "product__name", "quantity", "outstanding", "order_line__unit_price", "value", "priority",
        "status", "reason", "created_at", "eta", "eta_basis", "eta_purchase_order_line__purchase_order__number",
    ).iterator(chunk_size=2000):  # fmt: skip
        *rest, po = row
        rest[VALUE] = Decimal(rest[VALUE] or 0).quantize(CENT)  # SQLite returns the product unscaled
        yield [f"BO-{rest[0]}", *rest[1:], po or ""]


# --- overview ---------------------------------------------------------------------------------

# The beat task ``dashboard_overview_refresh`` recomputes every period each minute; the entry outlives a few missed
# runs, so a page view finds a precomputed context and only an empty cache (first start) is computed in the request.
OVERVIEW_CACHE_SECONDS = 300


def overview_cache_key(days: int) -> str:
    return f"dashboard:overview:{days}"


def overview_refresh(*, days: int) -> dict:
    """Compute the overview of the last ``days`` days and store it for every web process to read."""
    context = _overview_context(days)
    cache.set(overview_cache_key(days), context, OVERVIEW_CACHE_SECONDS)
    return context


# An empty cache (first start, cache flushed) is computed by ONE request; others wait for its result this long
# before computing it themselves (the first one died or is very slow).
OVERVIEW_COMPUTE_LOCK_SECONDS = 30
OVERVIEW_WAIT_SECONDS = 10.0


def overview_get(*, days: int) -> dict:
    """The overview as last computed (its ``computed_at`` says when); computed now only when nothing is cached,
    and then by one request at a time (``cache.add`` is atomic in Redis), so a cold start under load does not
    run the same heavy aggregates in every web process at once."""
    import time

    key = overview_cache_key(days)
    context = cache.get(key)
    if context is not None:
        return context
    lock = f"{key}:computing"
    if cache.add(lock, 1, OVERVIEW_COMPUTE_LOCK_SECONDS):
        try:
            return overview_refresh(days=days)
        finally:
            cache.delete(lock)
    deadline = time.monotonic() + OVERVIEW_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)
        context = cache.get(key)
        if context is not None:
            return context
    return overview_refresh(days=days)


def _overview_context(days: int) -> dict:
    now = timezone.now()
    flows = metrics.daily_flows(metrics.Period.last(days, now=now))
    opened_closed = metrics.opened_closed_per_day(days=days, now=now, flows=flows)
    value_points = metrics.open_value_per_day(days=days, now=now, flows=flows)
    aging = metrics.aging_buckets(now=now)
    top = metrics.top_backordered_products(limit=8)
    labels = [row["day"].strftime("%d %b") for row in opened_closed]
    return {
        "days": days,
        "periods": metrics.PERIODS,
        "cards": _cards(metrics.kpis(days=days, now=now)),
        "chart_opened_closed": charts.line_chart(
            title="Backorders opened vs closed per day",
            x_labels=labels,
            series=[("Opened", [r["opened"] for r in opened_closed]), ("Closed", [r["closed"] for r in opened_closed])],
        ),
        "chart_open_value": charts.line_chart(
            title="Open backorder value",
            x_labels=[p["day"].strftime("%d %b") for p in value_points],
            series=[("Open value (€)", [p["value"] for p in value_points])],
            area=True,
            prefix="€",
        ),
        "chart_aging": charts.bar_chart(
            title="Waiting backorders by age",
            labels=[b["label"] for b in aging],
            values=[b["count"] for b in aging],
            color="#f59e0b",
        ),
        "chart_top": charts.bar_chart(
            title="Top products by backordered units",
            labels=[r["product__sku"] for r in top],
            values=[r["units"] for r in top],
        )
        if top
        else None,
        "top": top,
        "computed_at": now,
    }


def _format(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value * 100:.1f} %"
    if unit == "days":
        return f"{value:.1f} d"
    if unit == "money":
        return f"€{value:,.0f}" if abs(value) >= 1000 else f"€{value:,.2f}"
    return f"{value:,}"


def _format_change(kpi: metrics.Kpi) -> str:
    change = kpi.change
    if change is None:
        return "no earlier data" if kpi.previous is None else "no current data"
    if not change:
        return "no change"
    sign = "▲" if change > 0 else "▼"
    if kpi.unit == "percent":
        return f"{sign} {abs(change) * 100:.1f} pts"
    return f"{sign} {_format(abs(change), kpi.unit)}"


def _cards(kpis: list[metrics.Kpi]) -> list[dict]:
    return [
        {
            "key": k.key,
            "label": k.label,
            "definition": k.definition,
            "value": _format(k.value, k.unit),
            "previous": _format(k.previous, k.unit),
            "change": _format_change(k),
            "trend": k.trend,
        }
        for k in kpis
    ]
