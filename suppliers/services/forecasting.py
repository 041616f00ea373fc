"""Which forecast method planning uses per product: the one that backtests best (suppliers.forecast)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..forecast import METHODS, backtest_series, demand_series, forecast_next
from ..models import ForecastChoice

DEFAULT_WINDOW_DAYS = 56
DEFAULT_HORIZON_DAYS = 7
DEFAULT_FOLDS = 4
FORECAST_AHEAD_DAYS = 28
CHUNK = 200


def forecast_choices_refresh(
    *,
    product_ids: list[int] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    folds: int = DEFAULT_FOLDS,
) -> int:
    """Backtest every active product (or the given ones) and keep, per product, the method with the lowest error and
    its average daily forecast for the next four weeks. A product with too little history loses its choice (planning
    then uses the moving average). One transaction per chunk of products; returns how many choices were written."""
    from inventory.models import Product

    today = timezone.localdate()
    if product_ids is None:
        product_ids = list(
            Product.objects.filter(status=Product.Status.ACTIVE).order_by("pk").values_list("pk", flat=True)
        )
    written = 0
    for start in range(0, len(product_ids), CHUNK):
        chunk = product_ids[start : start + CHUNK]
        series = demand_series(product_ids=chunk, today=today)
        choices, dropped = [], []
        for product_id in chunk:
            result = backtest_series(series[product_id], window=window_days, horizon=horizon_days, folds=folds)
            if result["status"] != "ok":
                dropped.append(product_id)
                continue
            method = result["best_method"]
            figures = result["methods"][method]
            choices.append(
                ForecastChoice(
                    product_id=product_id,
                    method=method,
                    wape=figures["wape"],
                    bias=figures["bias"],
                    skill_vs_naive=figures["skill_vs_naive"],
                    skill_vs_seasonal_naive=figures["skill_vs_seasonal_naive"],
                    forecast_daily=round(
                        forecast_next(series[product_id], method, window=window_days, days=FORECAST_AHEAD_DAYS), 4
                    ),
                    window_days=window_days,
                    horizon_days=horizon_days,
                    folds=folds,
                    computed_on=today,
                )
            )
        with transaction.atomic():
            ForecastChoice.objects.filter(product_id__in=dropped).delete()
            ForecastChoice.objects.bulk_create(
                choices,
                update_conflicts=True,
                unique_fields=["product"],
                update_fields=[
                    "method", "wape", "bias", "skill_vs_naive", "skill_vs_seasonal_naive", "forecast_daily",
                    "window_days", "horizon_days", "folds", "computed_on",
                ],
            )  # fmt: skip
        written += len(choices)
    return written


__all__ = ["METHODS", "forecast_choices_refresh"]
