"""Staff dashboard pages of suppliers: the scorecard and the drill-down to a supplier's purchase orders."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.exports import csv_response, wants_csv
from inventory.selectors import warehouses_list
from suppliers.models import Supplier
from suppliers.planning import (
    DASHBOARD_SERVICE_LEVELS,
    DEFAULT_WINDOW_DAYS,
    dashboard_service_level,
    replenishment_plan,
)
from suppliers.scorecard import supplier_purchase_orders, supplier_scorecards
from suppliers.selectors import forecast_quality_summary

CSV_FIELDS = [
    "lines_delivered", "on_time_rate", "lead_time_actual_days", "lead_time_quoted_days", "fill_rate", "eta_slips",
    "backorders_waiting", "open_purchase_orders",
]  # fmt: skip


@require_GET
def scorecard(request):
    rows = supplier_scorecards()
    if wants_csv(request):
        data = [["supplier", *CSV_FIELDS]]
        data += [[row["supplier"].code, *("" if row[f] is None else row[f] for f in CSV_FIELDS)] for row in rows]
        return csv_response(f"suppliers-{timezone.localdate():%Y%m%d}.csv", data)
    return render(request, "dashboard/scorecard.html", {"rows": rows})


@require_GET
def supplier(request, pk: int):
    supplier = get_object_or_404(Supplier, pk=pk)
    orders = supplier_purchase_orders(supplier=supplier)
    if wants_csv(request):
        header = ["number", "status", "order_date", "expected_date", "units_ordered", "units_received"]
        return csv_response(
            f"purchase-orders-{supplier.code}.csv", [header, *orders.values_list(*header).iterator(chunk_size=2000)]
        )
    [card] = supplier_scorecards(supplier_ids=[supplier.pk])
    context = {"supplier": supplier, "card": card, "orders": orders[:200], "today": timezone.localdate()}
    return render(request, "dashboard/supplier.html", context)


PLANNING_FIELDS = [
    "sku", "forecast_daily", "demand_deviation", "available", "incoming", "waiting", "inventory_position",
    "days_of_cover", "supplier", "lead_time_days", "safety_stock", "reorder_point", "reorder_now",
    "transfer_from", "transfer_quantity", "suggested_quantity", "stockout_risk",
]  # fmt: skip
PLANNING_PAGE_ROWS = 200  # the riskiest; the CSV export has every product


@require_GET
def planning(request):
    """The replenishment plan; ``?service_level=`` picks one of DASHBOARD_SERVICE_LEVELS (else: the default)."""
    service_level = dashboard_service_level(request.GET.get("service_level"))
    reorder_now = bool(request.GET.get("reorder_now"))
    warehouses = list(warehouses_list())
    warehouse = request.GET.get("warehouse", "")
    if warehouse not in {w.code for w in warehouses}:
        warehouse = ""  # every active warehouse together
    rows = replenishment_plan(service_level=service_level, reorder_now_only=reorder_now, warehouse=warehouse or None)
    if wants_csv(request):
        data = [PLANNING_FIELDS, *([("" if row[f] is None else row[f]) for f in PLANNING_FIELDS] for row in rows)]
        return csv_response(f"planning-{timezone.localdate():%Y%m%d}.csv", data)
    context = {
        "rows": rows[:PLANNING_PAGE_ROWS],
        "total": len(rows),
        "service_level": service_level,
        "service_levels": DASHBOARD_SERVICE_LEVELS,
        "window_days": DEFAULT_WINDOW_DAYS,
        "reorder_now": reorder_now,
        "warehouses": warehouses,
        "warehouse": warehouse,
        "to_order": sum(1 for row in rows if row["reorder_now"]),
        "backtest": forecast_quality_summary(),
    }
    return render(request, "dashboard/planning.html", context)
