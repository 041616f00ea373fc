"""Forecast backtests: the metrics on known series, insufficient history, the API, and planning's choice."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OrderLine
from suppliers.forecast import backtest_series, moving_average, seasonal, seasonal_naive
from suppliers.models import ForecastChoice
from suppliers.planning import replenishment_plan
from suppliers.services.forecasting import forecast_choices_refresh
from tests.orders.factories import CustomerFactory

TODAY = timezone.localdate


def test_moving_average_on_alternating_demand_has_a_wape_of_one_half():
    result = backtest_series([1.0, 3.0] * 40, window=56, horizon=7, folds=4)
    ma = result["methods"]["moving_average"]
    assert ma["wape"] == 0.5  # forecast 2 every day, off by 1 every day: Σ|e| / Σ actual = n / 2n
    assert ma["bias"] == 0.0
    # The weekly seasonal-naive copies the day a week back (odd lag: always the other value, off by 2).
    assert result["baselines"]["seasonal_naive"]["wape"] == 1.0
    assert ma["skill_vs_seasonal_naive"] == 0.5
    assert result["status"] == "ok"


def test_the_seasonal_method_wins_on_a_weekly_pattern():
    week = [5.0, 5.0, 5.0, 5.0, 5.0, 1.0, 1.0]
    result = backtest_series(week * 12, window=56, horizon=7, folds=4)
    assert result["best_method"] == "seasonal"
    assert result["methods"]["seasonal"]["wape"] < 0.05 < result["methods"]["moving_average"]["wape"]
    assert result["methods"]["seasonal"]["skill_vs_naive"] > 0.9
    assert seasonal_naive(week * 2, 3) == [5.0, 5.0, 5.0]
    assert moving_average([2.0, 4.0], 2, window=56) == [3.0, 3.0]
    assert [round(v) for v in seasonal(week * 8, 7, window=56)] == [5, 5, 5, 5, 5, 1, 1]


def test_too_little_history_is_insufficient():
    result = backtest_series([2.0] * 40, window=56, horizon=7, folds=4)
    assert result == {"status": "insufficient_history", "history_days": 40, "needed_days": 56}


def _demand(product, units_by_days_ago: dict[int, int]):
    customer = CustomerFactory()
    for days_ago, units in units_by_days_ago.items():
        if not units:
            continue
        placed = timezone.make_aware(datetime.combine(TODAY() - timedelta(days=days_ago), time(11)))
        order = Order.objects.create(number=f"SO-F-{product.pk}-{days_ago}", customer=customer, placed_at=placed)
        OrderLine.objects.create(
            order=order, product=product, quantity=units, quantity_shipped=units, unit_price=Decimal("1")
        )


@pytest.mark.django_db
def test_backtest_api_and_planning_uses_the_best_method(make_product, staff_client, channel_client):
    weekly = make_product(sku="WEEKLY")
    alternating = make_product(sku="ALT")
    young = make_product(sku="YOUNG")
    _demand(weekly, {d: (5 if (TODAY() - timedelta(days=d)).weekday() < 5 else 1) for d in range(1, 85)})
    _demand(alternating, {d: 1 if d % 2 else 3 for d in range(1, 81)})
    _demand(young, {d: 2 for d in range(1, 20)})

    response = staff_client.get("/api/v1/planning/backtest/?horizon=7&folds=4&window=56")
    assert response.status_code == 200
    rows = {row["sku"]: row for row in response.json()["results"]}
    assert rows["ALT"]["methods"]["moving_average"]["wape"] == 0.5
    assert rows["WEEKLY"]["best_method"] == "seasonal"
    assert rows["YOUNG"]["status"] == "insufficient_history" and "methods" not in rows["YOUNG"]
    assert rows["WEEKLY"]["planning_method"] == "moving_average"  # not refreshed yet

    assert forecast_choices_refresh() == 2
    choice = ForecastChoice.objects.get(product=weekly)
    assert choice.method == "seasonal" and choice.wape < 0.05
    plan = {row["sku"]: row for row in replenishment_plan(skus=["WEEKLY", "ALT", "YOUNG"])}
    assert plan["WEEKLY"]["forecast_method"] == "seasonal"
    assert plan["WEEKLY"]["forecast_daily"] == pytest.approx(choice.forecast_daily, abs=0.01)
    assert plan["ALT"]["forecast_method"] == "moving_average" and plan["ALT"]["forecast_wape"] == 0.5
    assert plan["YOUNG"]["forecast_wape"] is None
    assert staff_client.get("/api/v1/planning/backtest/?sku=WEEKLY").json()["results"][0]["planning_method"] == (
        "seasonal"
    )

    bad = staff_client.get("/api/v1/planning/backtest/?folds=0")
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert channel_client.get("/api/v1/planning/backtest/").status_code in (401, 403)
