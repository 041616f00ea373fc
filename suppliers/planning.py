"""Replenishment planning: demand forecast, safety stock, reorder point and stockout risk per product (reads only).

The rules, in a planner's words (docs/planning.md says the same with an example):
- **Demand** is what customers ordered per day (order lines by the day their order was placed), whether it was
  served from stock or backordered: a backorder is demand too. Days without orders count as zero.
- **Forecast**: the average daily demand over the look-back window (default 8 weeks), and how much it varies
  from day to day (standard deviation). Where the nightly backtest found the seasonal method better for a product
  (``ForecastChoice``, suppliers.forecast), its four-week forecast replaces the average (the spread stays).
- **Lead time**: the preferred supplier's quoted lead time. No preferred supplier, no plan (shown as such).
- **Safety stock** = z × σ(daily demand) × √(lead time), where z comes from the service level (95 % → 1.645):
  the buffer that covers demand swings while a replenishment is on its way.
- **Reorder point** = forecast × lead time + safety stock.
- **Inventory position** = free stock (on hand − reserved) + open purchase-order units − units customers already
  wait for. Order when the position is at or below the reorder point.
- **Suggested order** = enough to lift the position to the reorder point plus one review period of demand (a
  week), at least the supplier's minimum order, in whole packs.
- **Stockout risk** = the chance that demand over the lead time exceeds the position (normal approximation of the
  lead-time demand). Products whose customers already wait for more than stock and orders cover are at 100 %.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist
from typing import NamedTuple

from django.db.models import F, Sum
from django.utils import timezone

from .models import ForecastChoice, SupplierProduct
from .selectors import demand_rollup_upto, demand_totals, incoming_lines, suggested_order_quantity
from .warehouse_scope import transfer_lines_in_transit_for, warehouse_scope

DEFAULT_WINDOW_DAYS = 56
DEFAULT_SERVICE_LEVEL = 0.95
DASHBOARD_SERVICE_LEVELS = (0.9, 0.95, 0.98, 0.99)
REVIEW_PERIOD_DAYS = 7


class _Product(NamedTuple):
    pk: int
    sku: str
    name: str
    demand_rollup_upto: int | None


class _Offer(NamedTuple):  # the preferred supplier's terms
    supplier_code: str
    lead_time_days: int
    min_order_quantity: int
    pack_size: int


@dataclass(frozen=True)
class Forecast:
    daily: float  # average units a day over the window
    deviation: float  # standard deviation of the daily units
    window_days: int


def forecast_from_totals(*, units: int, squares: int, window_days: int) -> Forecast:
    """Average and (population) standard deviation of the daily demand from Σ units and Σ units² per day."""
    mean = units / window_days
    deviation = math.sqrt(max(0.0, squares / window_days - mean * mean))
    return Forecast(daily=mean, deviation=deviation, window_days=window_days)


@functools.lru_cache(maxsize=16)
def _z(service_level: float) -> float:
    return NormalDist().inv_cdf(service_level)


def safety_stock(forecast: Forecast, *, lead_time_days: int, service_level: float) -> int:
    z = _z(service_level)
    return max(0, math.ceil(z * forecast.deviation * math.sqrt(lead_time_days) - 1e-9))


def reorder_point(forecast: Forecast, *, lead_time_days: int, safety: int) -> int:
    return math.ceil(forecast.daily * lead_time_days - 1e-9) + safety


def stockout_risk(forecast: Forecast, *, lead_time_days: int, position: int) -> float:
    """P(demand over the lead time > position), lead-time demand ~ Normal(d̄·L, σ·√L)."""
    if position < 0:
        return 1.0
    mean = forecast.daily * lead_time_days
    spread = forecast.deviation * math.sqrt(lead_time_days)
    if spread == 0:
        return 1.0 if mean > position else 0.0
    return 1.0 - NormalDist(mean, spread).cdf(position + 0.5)  # +0.5: whole units


def dashboard_service_level(value) -> float:
    """The dashboard's service-level choice from a form value; anything else is the default."""
    try:
        level = float(value)
    except (TypeError, ValueError):
        return DEFAULT_SERVICE_LEVEL
    return level if level in DASHBOARD_SERVICE_LEVELS else DEFAULT_SERVICE_LEVEL


def replenishment_plan(
    *,
    service_level: float = DEFAULT_SERVICE_LEVEL,
    window_days: int = DEFAULT_WINDOW_DAYS,
    skus: list[str] | None = None,
    reorder_now_only: bool = False,
    today: date | None = None,
    warehouse: str | None = None,
) -> list[dict]:
    """One row per active product (or only those to order now), riskiest first. Seven queries whatever the
    number of products. With ``warehouse`` (a code) the stock side is that warehouse's (``warehouse_scope``: its free
    units, what comes to it, what waits that it may serve) and a transfer from the warehouse with the most free units
    is suggested before a purchase order; the forecast stays the product's."""
    from backorders.models import Backorder
    from inventory.models import Product, StockItem

    today = today or timezone.localdate()
    start = today - timedelta(days=window_days)
    products = Product.objects.filter(status=Product.Status.ACTIVE).order_by("sku")
    if skus is not None:
        products = products.filter(sku__in=skus)
    # The demand rollup's watermark read in passing (no query of its own): see demand_totals.
    # Plain rows, not model instances (800 of them, and as many offers below: most of the time in Python).
    products = [
        _Product(*row)
        for row in products.annotate(demand_rollup_upto=demand_rollup_upto()).values_list(
            "id", "sku", "name", "demand_rollup_upto"
        )
    ]
    ids = [p.pk for p in products]
    # Every active product: no list of 800 ids sent with each read (rows of other products are never looked up).
    listed = ids if skus is not None else None

    def of_products(queryset):
        return queryset.filter(product_id__in=ids) if listed is not None else queryset

    # Σ units and Σ units² of each product's days (days without orders add 0 to both): from the daily demand rollup
    # and the order lines after it, in one statement (suppliers.selectors.demand_totals).
    totals = (
        demand_totals(
            start=start,
            today=today,
            product_ids=listed,
            upto=products[0].demand_rollup_upto or 0,
        )
        if products
        else {}
    )
    units = {product_id: pair[0] for product_id, pair in totals.items()}
    squares = {product_id: pair[1] for product_id, pair in totals.items()}
    scope = warehouse_scope(code=warehouse, product_ids=ids) if warehouse else None
    if scope is not None:
        stock, waiting = scope.free, scope.waiting
        incoming: dict[int, int] = defaultdict(int, {pid: scope.incoming(pid) for pid in ids})
    else:
        stock = {
            row["product_id"]: row["free"] or 0
            for row in of_products(StockItem.objects.sellable())
            .values("product_id")
            .annotate(free=Sum(F("on_hand") - F("allocated")))
        }
        incoming = defaultdict(int)
        for line in incoming_lines(product_ids=listed).values("product_id", "quantity_ordered", "quantity_received"):
            incoming[line["product_id"]] += line["quantity_ordered"] - line["quantity_received"]
        for product_id, _, moving in transfer_lines_in_transit_for(ids):  # on their way: not on hand anywhere
            incoming[product_id] += moving
        waiting = dict(
            of_products(Backorder.objects.filter(status__in=Backorder.WAITING))
            .values("product_id")
            .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
            .values_list("product_id", "units")
        )
    choices = {
        choice.product_id: choice
        for choice in of_products(ForecastChoice.objects.filter(computed_on__gte=today - timedelta(days=2)))
    }
    preferred = {
        row[0]: _Offer(*row[1:])
        for row in of_products(SupplierProduct.objects.filter(preferred=True)).values_list(
            "product_id", "supplier__code", "lead_time_days", "min_order_quantity", "pack_size"
        )
    }

    rows = []
    for product in products:
        forecast = forecast_from_totals(
            units=units.get(product.pk, 0), squares=squares.get(product.pk, 0), window_days=window_days
        )
        choice = choices.get(product.pk)
        if choice is not None and choice.method == ForecastChoice.Method.SEASONAL:
            forecast = Forecast(daily=choice.forecast_daily, deviation=forecast.deviation, window_days=window_days)
        available = max(0, stock.get(product.pk, 0))
        position = available + incoming[product.pk] - waiting.get(product.pk, 0)
        sp = preferred.get(product.pk)
        row = {
            "product_id": product.pk,
            "sku": product.sku,
            "name": product.name,
            "forecast_daily": round(forecast.daily, 2),
            "forecast_method": choice.method if choice else ForecastChoice.Method.MOVING_AVERAGE.value,
            "forecast_wape": choice.wape if choice else None,
            "forecast_skill_vs_naive": choice.skill_vs_naive if choice else None,
            "demand_deviation": round(forecast.deviation, 2),
            "available": available,
            "incoming": incoming[product.pk],
            "waiting": waiting.get(product.pk, 0),
            "inventory_position": position,
            "days_of_cover": round(available / forecast.daily, 1) if forecast.daily else None,
            "supplier": sp.supplier_code if sp else None,
            "lead_time_days": sp.lead_time_days if sp else None,
            "safety_stock": None,
            "reorder_point": None,
            "reorder_now": False,
            "suggested_quantity": 0,
            "transfer_from": None,
            "transfer_quantity": 0,
            "stockout_risk": None,
        }
        if sp is not None:
            lead_time = sp.lead_time_days
            safety = safety_stock(forecast, lead_time_days=lead_time, service_level=service_level)
            point = reorder_point(forecast, lead_time_days=lead_time, safety=safety)
            reorder = position <= point and (forecast.daily > 0 or position < 0)
            target = point + math.ceil(forecast.daily * REVIEW_PERIOD_DAYS - 1e-9)
            transfer_from, transfer_quantity = (
                scope.transfer(product.pk, target - position) if scope is not None and reorder else (None, 0)
            )
            row.update(
                transfer_from=transfer_from,
                transfer_quantity=transfer_quantity,
                safety_stock=safety,
                reorder_point=point,
                reorder_now=reorder,
                suggested_quantity=(
                    suggested_order_quantity(
                        uncovered=target - position - transfer_quantity,
                        min_order_quantity=sp.min_order_quantity,
                        pack_size=sp.pack_size,
                    )
                    if reorder
                    else 0
                ),
                stockout_risk=round(stockout_risk(forecast, lead_time_days=lead_time, position=position), 4),
            )
        rows.append(row)
    if reorder_now_only:
        rows = [row for row in rows if row["reorder_now"]]
    rows.sort(key=lambda r: (-(r["stockout_risk"] or 0), not r["reorder_now"], r["sku"]))
    return rows
