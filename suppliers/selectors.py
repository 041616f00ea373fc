"""Reads of suppliers and purchase orders, and the shortage list (shared with the dashboard)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import F, Prefetch, Sum

from .models import ExpectedDateRevision, PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct


def supplier_list():
    return Supplier.objects.order_by("code")


def supplier_product_list():
    return SupplierProduct.objects.select_related("supplier", "product").order_by("product__sku", "supplier__code")


def purchase_order_list():
    return PurchaseOrder.objects.select_related("supplier", "warehouse").prefetch_related(
        Prefetch("lines", queryset=PurchaseOrderLine.objects.select_related("product").order_by("pk"))
    )


def purchase_order_get(*, number: str) -> PurchaseOrder | None:
    if not number or "\x00" in number or len(number) > 32:
        return None
    return (
        purchase_order_list()
        .prefetch_related(
            Prefetch(
                "lines__date_revisions",
                queryset=ExpectedDateRevision.objects.select_related("created_by").order_by("created_at", "id"),
            )
        )
        .filter(number=number)
        .first()
    )


def incoming_lines(*, product_ids: Iterable[int] | None = None):
    """Open purchase-order lines (sent or partly received, units still to come), earliest first."""
    queryset = PurchaseOrderLine.objects.filter(
        purchase_order__status__in=PurchaseOrder.INCOMING, quantity_received__lt=F("quantity_ordered")
    )
    if product_ids is not None:
        queryset = queryset.filter(product_id__in=list(product_ids))
    return queryset.order_by("product_id", "expected_date", "id")


def suggested_order_quantity(*, uncovered: int, min_order_quantity: int, pack_size: int) -> int:
    """At least the uncovered units, at least the minimum order, rounded up to whole packs."""
    if uncovered <= 0:
        return 0
    quantity = max(uncovered, min_order_quantity)
    return -(-quantity // pack_size) * pack_size


def shortages(*, product_ids: Iterable[int] | None = None, warehouse: str | None = None) -> list[dict]:
    """Per product with waiting backorders: demand, stock, incoming by date, uncovered and what to order.

    A handful of queries whatever the number of products. ``uncovered`` = demand − available − incoming (not below 0).
    With ``warehouse`` (a code): seen from that warehouse (``warehouse_scope``), and a transfer from the warehouse
    with the most free units is suggested before a purchase order (``transfer_from``, ``transfer_quantity``).
    """
    from inventory.models import Product

    from .warehouse_scope import network_scope, warehouse_scope

    scope = (
        warehouse_scope(code=warehouse, product_ids=product_ids)
        if warehouse
        else network_scope(product_ids=product_ids)
    )
    demand = {pid: units for pid, units in scope.waiting.items() if units}
    if not demand:
        return []
    ids = sorted(demand)
    preferred = {
        sp.product_id: sp
        for sp in SupplierProduct.objects.filter(product_id__in=ids, preferred=True).select_related("supplier")
    }
    rows = []
    for product in Product.objects.filter(pk__in=ids).order_by("sku"):
        available = scope.free.get(product.pk, 0)  # only active warehouses' stock is available (inventory.routing)
        by_date = sorted(scope.incoming_by_date.get(product.pk, {}).items())
        incoming_total = sum(q for _, q in by_date)
        uncovered = max(0, demand[product.pk] - available - incoming_total)
        transfer_from, transfer_quantity = scope.transfer(product.pk, uncovered) if warehouse else (None, 0)
        sp = preferred.get(product.pk)
        rows.append(
            {
                "product_id": product.pk,
                "sku": product.sku,
                "name": product.name,
                "demand": demand[product.pk],
                "on_hand": scope.on_hand.get(product.pk, 0),
                "available": available,
                "incoming": incoming_total,
                "incoming_by_date": [{"date": d, "quantity": q} for d, q in by_date],
                "uncovered": uncovered,
                "transfer_from": transfer_from,
                "transfer_quantity": transfer_quantity,
                "supplier": sp.supplier.code if sp else None,
                "lead_time_days": sp.lead_time_days if sp else None,
                "min_order_quantity": sp.min_order_quantity if sp else None,
                "pack_size": sp.pack_size if sp else None,
                "suggested_quantity": (
                    suggested_order_quantity(
                        uncovered=uncovered - transfer_quantity,
                        min_order_quantity=sp.min_order_quantity,
                        pack_size=sp.pack_size,
                    )
                    if sp
                    else 0
                ),
            }
        )
    return rows


def allocation_runs_for_purchase_order(*, purchase_order, limit: int = 20) -> list:
    """The allocation runs its receipts set off (newest first): who got the units and who was passed over, and why."""
    from backorders.models import AllocationRecord

    product_ids = [line.product_id for line in purchase_order.lines.all()]
    return list(
        AllocationRecord.objects.filter(product_id__in=product_ids, source__endswith=f" {purchase_order.number}")
        .select_related("product")
        .order_by("-run_at", "-id")[:limit]
    )


def forecast_quality_summary() -> dict:
    """The planning page's panel: per method, how many products use it and how good it backtested (one query)."""
    from django.db.models import Avg, Count

    from inventory.models import Product

    from .models import ForecastChoice
    from .services.forecasting import DEFAULT_FOLDS, DEFAULT_HORIZON_DAYS, DEFAULT_WINDOW_DAYS

    methods = [
        {"method": row["method"], "products": row["n"], "wape": row["wape"], "skill": row["skill"]}
        for row in ForecastChoice.objects.filter(product__status=Product.Status.ACTIVE)
        .values("method")
        .annotate(n=Count("id"), wape=Avg("wape"), skill=Avg("skill_vs_naive"))
        .order_by("method")
    ]
    active = Product.objects.filter(status=Product.Status.ACTIVE).count()
    return {
        "methods": methods,
        "insufficient": max(0, active - sum(m["products"] for m in methods)),
        "window": DEFAULT_WINDOW_DAYS,
        "horizon": DEFAULT_HORIZON_DAYS,
        "folds": DEFAULT_FOLDS,
    }


# Per product: Σ and Σ² of the rolled-up days (the whole months of the window from the monthly level, the days
# before and after them from the daily rows; no per-day grouping), plus what the
# lines after the watermark add to their day: a live day of l units on a rolled-up day of r units turns r² into
# (r + l)² = r² + 2rl + l².
_DEMAND_TOTALS_SQL = """
WITH r AS (SELECT 1 FROM {rollup} WHERE id = 1 AND time_zone = %(zone)s AND line_id_upto = %(upto)s),
rolled AS (
    SELECT product_id, SUM(units) AS units, SUM(squares) AS squares
      FROM (SELECT product_id, units, squares FROM {monthly}
             WHERE month >= %(month_from)s AND month < %(month_to)s {demand_products}
             UNION ALL
            SELECT product_id, units, units * units FROM {demand}
             WHERE day >= %(start)s AND day < %(month_from)s {demand_products}
             UNION ALL
            SELECT product_id, units, units * units FROM {demand}
             WHERE day >= %(month_to)s AND day < %(today)s {demand_products}) days
     WHERE %(upto)s > 0 AND EXISTS (SELECT 1 FROM r)
     GROUP BY 1
),
live AS (
    SELECT l.product_id, (o.placed_at AT TIME ZONE %(zone)s)::date AS day, SUM(l.quantity) AS units
      FROM {line} l JOIN {order} o ON o.id = l.order_id
     WHERE l.id > %(upto)s AND o.placed_at >= %(since)s AND o.placed_at < %(until)s {line_products}
     GROUP BY 1, 2
),
added AS (
    SELECT v.product_id, SUM(v.units) AS units, SUM(2 * COALESCE(d.units, 0) * v.units + v.units * v.units) AS squares
      FROM live v LEFT JOIN {demand} d
        ON %(upto)s > 0 AND d.day = v.day AND d.product_id = v.product_id AND EXISTS (SELECT 1 FROM r)
     GROUP BY 1
)
SELECT product_id, SUM(units)::bigint, SUM(squares)::numeric
  FROM (SELECT * FROM rolled UNION ALL SELECT * FROM added) totals
 GROUP BY 1
HAVING SUM(units) <> 0
 UNION ALL
SELECT NULL, NULL, NULL WHERE %(upto)s > 0 AND NOT EXISTS (SELECT 1 FROM r)
"""


def demand_rollup_upto():
    """The rollup's watermark for this time zone (None: no rollup of this zone) as a subquery, to read it in passing
    with another query (planning reads it with its products) and hand it to ``demand_totals``."""
    from django.db.models import Subquery
    from django.utils import timezone as tz

    from .models import DemandRollup

    return Subquery(
        DemandRollup.objects.filter(pk=1, time_zone=tz.get_current_timezone_name()).values("line_id_upto")[:1]
    )


def demand_totals(*, start, today, product_ids=None, upto=None) -> dict[int, tuple[int, int]]:
    """Σ units and Σ units² of each product's days in [start, today) (units ordered per day, by the day the order
    was placed in the current time zone; days without orders add nothing): what the forecast is computed from.

    On PostgreSQL: the daily demand rollup (``suppliers.services.demand``) for the order lines it holds, and the
    lines after its watermark read live (an index range: the watermark is sent as a value, so the planner knows how
    few they are); without a rollup (or one of another time zone), every line live. A refresh committed between
    reading the watermark and the sums is seen (a sentinel row) and the sums are read again. A product whose
    rolled-up units were all taken back again is left out, as without a rollup. ``upto``: the watermark, when the
    caller read it already (``demand_rollup_upto``; 0: no rollup). ``demand_totals_from_lines`` is
    the same from the order lines alone (tests/suppliers/test_demand_rollup.py proves they agree). ``product_ids``
    limits it to those products."""
    from datetime import datetime, time

    from django.db import connection
    from django.utils import timezone as tz

    from orders.models import Order, OrderLine

    from .models import DailyDemand, DemandRollup, MonthlyDemand

    if connection.vendor != "postgresql":
        return demand_totals_from_lines(start=start, today=today, product_ids=product_ids)
    zone = tz.get_current_timezone_name()
    month_from, month_to = _whole_months(start, today)
    params = {
        "zone": zone,
        "start": start,
        "today": today,
        "month_from": month_from,
        "month_to": month_to,
        "since": tz.make_aware(datetime.combine(start, time.min)),
        "until": tz.make_aware(datetime.combine(today, time.min)),
        "ids": list(product_ids) if product_ids is not None else None,
    }
    sql = _DEMAND_TOTALS_SQL.format(
        rollup=DemandRollup._meta.db_table,
        demand=DailyDemand._meta.db_table,
        monthly=MonthlyDemand._meta.db_table,
        line=OrderLine._meta.db_table,
        order=Order._meta.db_table,
        demand_products="AND product_id = ANY(%(ids)s)" if product_ids is not None else "",
        line_products="AND l.product_id = ANY(%(ids)s)" if product_ids is not None else "",
    )
    with connection.cursor() as cursor:
        for _attempt in range(3):
            if upto is None:
                rollup = DemandRollup.objects.filter(pk=1, time_zone=zone)
                upto = rollup.values_list("line_id_upto", flat=True).first() or 0
            cursor.execute(sql, {**params, "upto": upto})
            rows = cursor.fetchall()
            if all(row[0] is not None for row in rows):
                return {product_id: (int(units), int(squares)) for product_id, units, squares in rows}
            upto = None  # refreshed in between: read the watermark again
    return demand_totals_from_lines(start=start, today=today, product_ids=product_ids)


def _whole_months(start, today):
    """The calendar months wholly inside [start, today), as [first day of the first, first day after the last); an
    empty range at ``start`` when there is none (then every day is read from the daily rows)."""
    month_from = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    month_to = today.replace(day=1)
    return (month_from, month_to) if month_from < month_to else (start, start)


def demand_totals_from_lines(*, start, today, product_ids=None) -> dict[int, tuple[int, int]]:
    """``demand_totals`` from every order line of the window (the definition; the fallback off PostgreSQL)."""
    from datetime import datetime, time

    from django.db.models.functions import TruncDate
    from django.utils import timezone as tz

    from orders.models import OrderLine

    lines = OrderLine.objects.filter(
        order__placed_at__gte=tz.make_aware(datetime.combine(start, time.min)),
        order__placed_at__lt=tz.make_aware(datetime.combine(today, time.min)),
    )
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    totals: dict[int, tuple[int, int]] = {}
    for product_id, _day, day_units in (
        lines.annotate(day=TruncDate("order__placed_at"))
        .values("product_id", "day")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "day", "units")
    ):
        units, squares = totals.get(product_id, (0, 0))
        totals[product_id] = (units + day_units, squares + day_units * day_units)
    return totals
