"""Celery tasks of suppliers: take ids, call a service. Nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def forecast_backtests_nightly() -> int:
    """Backtest every active product's forecast methods; planning uses the best one per product."""
    from .services.forecasting import forecast_choices_refresh

    return forecast_choices_refresh()


@shared_task(acks_late=True)
def demand_rollup_hourly() -> int:
    """Sum the order lines written since the last run into planning's daily demand rollup."""
    from .services.demand import demand_rollup_refresh

    return demand_rollup_refresh()
