"""Celery tasks of suppliers: take ids, call a service. Nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def forecast_backtests_nightly() -> int:
    """Backtest every active product's forecast methods; planning uses the best one per product."""
    from .services.forecasting import forecast_choices_refresh

    return forecast_choices_refresh()
