"""Forecast methods and their rolling-origin backtest (reads only; docs/planning.md, "Forecast quality").

- **moving_average**: the mean daily demand of the last ``window`` days, flat over the horizon (planning's rule).
- **seasonal**: Holt-Winters exponential smoothing with an additive weekly season (statsmodels), over the last
  ``window`` days (fixed smoothing α = 0.2, γ = 0.1); with more than a year of history, scaled by last year's
  movement from the weeks before the origin to the weeks around each forecast day (the yearly season).
- Baselines: **naive** (the last day's demand, repeated) and **seasonal_naive** (the same weekday a week earlier).

Backtest: ``folds`` origins, ``horizon`` days apart, the last one ``horizon`` days before the end of the history.
At each origin a method sees only the days before it and forecasts the next ``horizon`` days. Pooled over every
forecast day of every fold (F = forecast, A = actual):
- WAPE = Σ|F − A| / ΣA;  bias = Σ(F − A) / ΣA (positive: forecasts too high);
- skill vs a baseline = 1 − Σ|F − A| / Σ|baseline − A| (1 perfect, 0 no better than the baseline, < 0 worse).
A product needs ``MIN_TRAIN_DAYS`` + horizon × folds days since its first order, else ``insufficient_history``.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

METHODS = ("moving_average", "seasonal")  # what planning may use
BASELINES = ("naive", "seasonal_naive")
MIN_TRAIN_DAYS = 28
YEAR = 365
LOOKBACK_DAYS = 2 * YEAR  # history read for a backtest (enough for the yearly season)
# Fixed smoothing (level α, season γ) rather than fitted per series: ten times cheaper (a page of products backtests
# in seconds), the same method every day, and robust on short, intermittent series where a fit overreacts.
SMOOTHING_LEVEL = 0.2
SMOOTHING_SEASONAL = 0.1


def moving_average(history: list[float], horizon: int, *, window: int) -> list[float]:
    recent = history[-window:]
    mean = sum(recent) / len(recent) if recent else 0.0
    return [mean] * horizon


def naive(history: list[float], horizon: int, *, window: int = 0) -> list[float]:
    return [history[-1] if history else 0.0] * horizon


def seasonal_naive(history: list[float], horizon: int, *, window: int = 0, period: int = 7) -> list[float]:
    if len(history) < period:
        return naive(history, horizon)
    return [history[len(history) - period + (h % period)] for h in range(horizon)]


def seasonal(history: list[float], horizon: int, *, window: int) -> list[float]:
    train = history[-max(window, 14) :]
    if len(train) < 14 or not any(train):
        return seasonal_naive(history, horizon)
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            np.asarray(train, dtype=float), trend=None, seasonal="add", seasonal_periods=7,
            initialization_method="heuristic",
        ).fit(smoothing_level=SMOOTHING_LEVEL, smoothing_seasonal=SMOOTHING_SEASONAL, optimized=False)  # fmt: skip
        forecast = [float(value) for value in fitted.forecast(horizon)]
    if any(math.isnan(value) for value in forecast):
        return seasonal_naive(history, horizon)
    if len(history) >= YEAR + 28 + horizon:
        forecast = [value * _yearly_index(history, h) for h, value in enumerate(forecast)]
    return [max(0.0, value) for value in forecast]


def _yearly_index(history: list[float], h: int) -> float:
    """Last year's demand around the forecast day over last year's demand in the 4 weeks before the origin."""
    origin = len(history) - YEAR
    before = history[max(0, origin - 28) : origin]
    around = history[max(0, origin + h - 14) : origin + h + 14]
    if not before or not around or not sum(before):
        return 1.0
    ratio = (sum(around) / len(around)) / (sum(before) / len(before))
    return min(2.0, max(0.5, ratio))


FORECASTERS = {
    "moving_average": moving_average,
    "seasonal": seasonal,
    "naive": naive,
    "seasonal_naive": seasonal_naive,
}


def backtest_series(series: list[float], *, window: int, horizon: int, folds: int) -> dict:
    """Every method's WAPE, bias and skill on one daily series (oldest first, starting at the first order)."""
    needed = MIN_TRAIN_DAYS + horizon * folds
    if len(series) < needed:
        return {"status": "insufficient_history", "history_days": len(series), "needed_days": needed}
    errors: dict[str, list[float]] = defaultdict(list)
    actual_total = 0.0
    for fold in range(folds):
        origin = len(series) - horizon * (folds - fold)
        history, actual = series[:origin], series[origin : origin + horizon]
        actual_total += sum(actual)
        for name, forecaster in FORECASTERS.items():
            forecast = forecaster(history, horizon, window=window)
            errors[name].extend(f - a for f, a in zip(forecast, actual, strict=True))
    absolute = {name: sum(abs(e) for e in values) for name, values in errors.items()}
    methods = {}
    for name in METHODS:
        methods[name] = {
            "wape": _round(absolute[name] / actual_total) if actual_total else None,
            "bias": _round(sum(errors[name]) / actual_total) if actual_total else None,
            "skill_vs_naive": _skill(absolute[name], absolute["naive"]),
            "skill_vs_seasonal_naive": _skill(absolute[name], absolute["seasonal_naive"]),
        }
    baselines = {name: {"wape": _round(absolute[name] / actual_total) if actual_total else None} for name in BASELINES}
    best = min(METHODS, key=lambda name: (absolute[name], METHODS.index(name)))
    return {
        "status": "ok",
        "history_days": len(series),
        "needed_days": needed,
        "methods": methods,
        "baselines": baselines,
        "best_method": best,
    }


def _skill(error: float, baseline: float) -> float | None:
    return _round(1 - error / baseline) if baseline else None


def _round(value: float) -> float:
    return round(value, 4)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def demand_series(*, product_ids: list[int], today: date, lookback_days: int = LOOKBACK_DAYS) -> dict[int, list]:
    """Units ordered per day for each product, from its first order day (within the look-back) to yesterday: the
    planning definition of demand (served or backordered, cancelled or not). One query."""
    from orders.models import OrderLine

    start = today - timedelta(days=lookback_days)
    by_day: dict[int, dict[date, int]] = defaultdict(dict)
    for product_id, day, units in (
        OrderLine.objects.filter(
            product_id__in=product_ids, order__placed_at__gte=_midnight(start), order__placed_at__lt=_midnight(today)
        )
        .annotate(day=TruncDate("order__placed_at"))
        .values("product_id", "day")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "day", "units")
    ):
        by_day[product_id][day] = units
    series = {}
    for product_id in product_ids:
        days = by_day.get(product_id)
        if not days:
            series[product_id] = []
            continue
        first = min(days)
        series[product_id] = [float(days.get(first + timedelta(days=i), 0)) for i in range((today - first).days)]
    return series


def forecast_next(series: list[float], method: str, *, window: int, days: int) -> float:
    """The method's average daily forecast over the next ``days`` days (what planning multiplies by lead time)."""
    if not series:
        return 0.0
    values = FORECASTERS[method](series, days, window=window)
    return sum(values) / len(values)


def backtest_rows(*, products, window: int, horizon: int, folds: int, today: date | None = None) -> list[dict]:
    """One backtest row per product (two queries plus the arithmetic), with what planning uses now."""
    from .models import ForecastChoice

    products = list(products)
    ids = [product.pk for product in products]
    series = demand_series(product_ids=ids, today=today or timezone.localdate())
    planning = dict(ForecastChoice.objects.filter(product_id__in=ids).values_list("product_id", "method"))
    return [
        {
            "product_id": product.pk,
            "sku": product.sku,
            "name": product.name,
            **backtest_series(series[product.pk], window=window, horizon=horizon, folds=folds),
            "planning_method": planning.get(product.pk, "moving_average"),
        }
        for product in products
    ]


class BacktestPage(Sequence):
    """The active products as a sequence the paginator can count and slice; only the page shown is backtested."""

    def __init__(self, *, skus: list[str] | None, window: int, horizon: int, folds: int):
        from inventory.models import Product

        products = Product.objects.filter(status=Product.Status.ACTIVE).order_by("sku").only("id", "sku", "name")
        if skus is not None:
            products = products.filter(sku__in=skus)
        self.products = list(products)
        self.params = {"window": window, "horizon": horizon, "folds": folds}

    def __len__(self) -> int:
        return len(self.products)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return backtest_rows(products=self.products[index], **self.params)
        return backtest_rows(products=[self.products[index]], **self.params)[0]
