"""Replenishment planning: forecast, safety stock, reorder point, stockout risk — hand-checked figures."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime, time, timedelta
from statistics import NormalDist

import pytest
from django.utils import timezone

from orders.models import Order
from suppliers import services
from suppliers.planning import (
    Forecast,
    forecast_from_totals,
    reorder_point,
    replenishment_plan,
    safety_stock,
    stockout_risk,
)
from tests.suppliers.factories import SupplierFactory, SupplierProductFactory

PLANNING = "/api/v1/planning/"
Z95 = NormalDist().inv_cdf(0.95)  # 1.6449


def test_the_formulas_by_hand():
    series = [1 if n % 2 == 0 else 3 for n in range(14)]  # units a day
    forecast = forecast_from_totals(units=sum(series), squares=sum(x * x for x in series), window_days=14)
    assert (forecast.daily, forecast.deviation) == (2.0, 1.0)
    # Days with no orders count as zero: the same 28 units over 28 days.
    longer = forecast_from_totals(units=28, squares=70, window_days=28)
    assert (longer.daily, longer.deviation) == (1.0, math.sqrt(70 / 28 - 1))

    assert safety_stock(forecast, lead_time_days=9, service_level=0.95) == 5  # ⌈1.645 × 1 × 3⌉ = ⌈4.93⌉
    assert safety_stock(forecast, lead_time_days=9, service_level=0.5) == 0  # z = 0
    assert reorder_point(forecast, lead_time_days=9, safety=5) == 23  # 2 × 9 + 5

    # Lead-time demand ~ Normal(18, 3): the chance it exceeds 23 units is about 3 %.
    assert stockout_risk(forecast, lead_time_days=9, position=23) == pytest.approx(1 - NormalDist().cdf(5.5 / 3))
    assert stockout_risk(forecast, lead_time_days=9, position=23) < stockout_risk(
        forecast, lead_time_days=9, position=15
    )
    assert stockout_risk(forecast, lead_time_days=9, position=-1) == 1.0  # customers already wait for more
    steady = Forecast(daily=2.0, deviation=0.0, window_days=14)
    assert stockout_risk(steady, lead_time_days=9, position=17) == 1.0
    assert stockout_risk(steady, lead_time_days=9, position=18) == 0.0


def _history(place, sku, quantities, *, window_days):
    """One order a day over the window (oldest first), placed at noon."""
    first_day = timezone.localdate() - timedelta(days=window_days)
    for n, quantity in enumerate(quantities):
        order = place({sku: quantity})
        noon = timezone.make_aware(datetime.combine(first_day + timedelta(days=n), time(12)))
        Order.objects.filter(pk=order.pk).update(placed_at=noon)


@pytest.fixture
def planned(make_product, place, warehouse):
    """KETTLE: 14 days of orders alternating 1 and 3 units, one more today (not in the forecast), 10 units left
    free and 5 on order; preferred supplier quotes 9 days, sells at least 10, in packs of 6.
    LAMP: no supplier. OLD: discontinued. BULB: nothing left, 5 units waiting, supplier quotes 10 days."""
    kettle = make_product(sku="KETTLE", stock=39)
    _history(place, "KETTLE", [1 if n % 2 == 0 else 3 for n in range(14)], window_days=14)
    place({"KETTLE": 1})  # today
    SupplierProductFactory(
        product=kettle, supplier=SupplierFactory(code="acme"), lead_time_days=9, min_order_quantity=10, pack_size=6
    )
    services.purchase_order_create(
        supplier_code="acme",
        warehouse_code="MAIN",
        expected_date=timezone.localdate() + timedelta(days=20),
        lines=[services.PurchaseOrderLineRequest("KETTLE", 5)],
        send=True,
    )
    make_product(sku="LAMP", stock=4)
    make_product(sku="OLD", stock=4, status="discontinued")
    bulb = make_product(sku="BULB")
    place({"BULB": 5})
    SupplierProductFactory(product=bulb, supplier=SupplierFactory(code="bulbs"), lead_time_days=10)
    return kettle


def test_plan_figures_for_each_kind_of_product(planned):
    rows = {row["sku"]: row for row in replenishment_plan(window_days=14)}
    assert set(rows) == {"KETTLE", "LAMP", "BULB"}  # discontinued products are not planned
    kettle = rows["KETTLE"]
    assert {k: kettle[k] for k in ("forecast_daily", "demand_deviation", "available", "incoming", "waiting")} == {
        "forecast_daily": 2.0,
        "demand_deviation": 1.0,
        "available": 10,
        "incoming": 5,
        "waiting": 0,
    }
    assert kettle["inventory_position"] == 15
    assert kettle["days_of_cover"] == 5.0
    assert (kettle["lead_time_days"], kettle["safety_stock"], kettle["reorder_point"]) == (9, 5, 23)
    assert kettle["reorder_now"] is True
    # Up to 23 + a week of demand (14) = 37 from 15: 22, at least 10, in packs of 6 → 24.
    assert kettle["suggested_quantity"] == 24
    assert kettle["stockout_risk"] == pytest.approx(1 - NormalDist().cdf((15.5 - 18) / 3), abs=1e-4)

    lamp = rows["LAMP"]
    assert lamp["supplier"] is None
    assert (lamp["safety_stock"], lamp["reorder_point"], lamp["stockout_risk"]) == (None, None, None)
    assert (lamp["reorder_now"], lamp["suggested_quantity"], lamp["days_of_cover"]) == (False, 0, None)

    bulb = rows["BULB"]  # ordered today only: no forecast yet, but customers already wait
    assert (bulb["forecast_daily"], bulb["inventory_position"], bulb["stockout_risk"]) == (0.0, -5, 1.0)
    assert (bulb["reorder_now"], bulb["suggested_quantity"]) == (True, 5)

    # Riskiest first; a higher service level needs more safety stock.
    assert [row["sku"] for row in replenishment_plan(window_days=14)] == ["BULB", "KETTLE", "LAMP"]
    strict = {row["sku"]: row for row in replenishment_plan(window_days=14, service_level=0.99)}
    assert strict["KETTLE"]["safety_stock"] == 7  # ⌈2.326 × 3⌉


def test_planning_api(planned, staff_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = staff_client.get(PLANNING, {"window_days": 14})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3  # paginated like every other list
    rows = body["results"]
    assert [row["sku"] for row in rows] == ["BULB", "KETTLE", "LAMP"]
    assert rows[1]["reorder_point"] == 23 and rows[1]["suggested_quantity"] == 24
    only = staff_client.get(PLANNING, {"window_days": 14, "sku": ["KETTLE", "LAMP"], "reorder_now": "true"}).json()
    assert [row["sku"] for row in only["results"]] == ["KETTLE"]
    second = staff_client.get(PLANNING, {"window_days": 14, "page_size": 2, "page": 2}).json()
    assert [row["sku"] for row in second["results"]] == ["LAMP"]
    assert staff_client.get(PLANNING, {"page_size": "0"}).status_code == 400


@pytest.mark.parametrize(
    "query", [{"service_level": "1.5"}, {"service_level": "x"}, {"window_days": "3"}, {"window_days": "9999"}]
)
def test_planning_api_refuses_bad_parameters(planned, staff_client, query):
    response = staff_client.get(PLANNING, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"
    assert next(iter(query)) in response.json()["errors"]


def test_planning_is_staff_only(planned, channel_client, anon_client):
    assert channel_client.get(PLANNING).status_code == 403
    assert anon_client.get(PLANNING).status_code in (401, 403)


def test_planning_page_shows_the_riskiest_first_and_says_when_it_cuts(planned, client, staff_user, monkeypatch):
    from dashboard.views import suppliers as views

    monkeypatch.setattr(views, "PLANNING_PAGE_ROWS", 2)
    client.force_login(staff_user)
    html = client.get("/planning/").content.decode()
    assert "Showing the 2 riskiest of 3 products" in html
    assert "BULB" in html and "LAMP" not in html  # LAMP (no supplier, no risk) sorts last


def test_planning_page_and_csv(planned, client, staff_user):
    client.force_login(staff_user)
    html = client.get("/planning/").content.decode()
    assert "KETTLE" in html and "No preferred supplier" in html and "OLD" not in html
    only = client.get("/planning/", {"reorder_now": "1"}).content.decode()
    assert "BULB" in only and "LAMP" not in only  # the page forecasts over 8 weeks: BULB still must order
    exported = client.get("/planning/", {"format": "csv"})
    table = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert table[0][:3] == ["sku", "forecast_daily", "demand_deviation"]
    assert [row[0] for row in table[1:]] == ["BULB", "KETTLE", "LAMP"]


def test_product_page_shows_its_plan(planned, client, staff_user):
    from inventory.models import Product

    client.force_login(staff_user)
    kettle = client.get(f"/products/{planned.pk}/").content.decode()
    [plan] = replenishment_plan(skus=["KETTLE"])  # the page's default window: 8 weeks, 14 days of which had orders
    assert f"{plan['safety_stock']} · {plan['reorder_point']} at 9 d lead time" in kettle
    assert f"{plan['forecast_daily']} a day" in kettle and f"{plan['inventory_position']} (free" in kettle
    lamp = client.get(f"/products/{Product.objects.get(sku='LAMP').pk}/").content.decode()
    assert "No preferred supplier: no lead time to plan with." in lamp
    old = client.get(f"/products/{Product.objects.get(sku='OLD').pk}/").content.decode()
    assert "Not planned: the product is no longer sold." in old


def test_draft_a_purchase_order_from_the_plan(planned, make_product, staff_user):
    from inventory.models import Product
    from suppliers.exceptions import NoPreferredSupplier, NothingToOrder
    from suppliers.models import PurchaseOrder

    bulb = Product.objects.get(sku="BULB")  # 5 units waiting, nothing free or on order
    [plan] = replenishment_plan(skus=["BULB"], service_level=0.99)
    assert plan["reorder_now"] and plan["suggested_quantity"] == 5
    draft = services.purchase_order_draft_for_plan(product=bulb, service_level=0.99, user=staff_user)
    line = draft.lines.get()
    assert (draft.status, draft.supplier.code, line.quantity_ordered) == ("draft", "bulbs", 5)
    assert draft.expected_date == timezone.localdate() + timedelta(days=10)
    assert "position -5, reorder point 0, stockout risk 100 %" in draft.notes

    roomy = make_product(sku="ROOMY", stock=100)  # no demand, plenty of stock
    SupplierProductFactory(product=roomy, supplier=SupplierFactory(code="roomy"))
    for sku, error in (
        ("ROOMY", NothingToOrder),
        ("KETTLE", NothingToOrder),  # over 8 weeks: 0.5 a day, reorder point 12 at 99 %, position 15
        ("LAMP", NoPreferredSupplier),
        ("OLD", NothingToOrder),
    ):
        with pytest.raises(error):
            services.purchase_order_draft_for_plan(product=Product.objects.get(sku=sku))
    assert PurchaseOrder.objects.filter(status="draft").count() == 1


def test_planning_page_drafts_a_purchase_order(planned, client, staff_user):
    from inventory.models import Product
    from suppliers.models import PurchaseOrder

    client.force_login(staff_user)
    assert "Draft PO" in client.get("/planning/").content.decode()
    bulb = Product.objects.get(sku="BULB")
    response = client.post(f"/planning/{bulb.pk}/draft-po/", {"service_level": "0.98"})
    assert (response.status_code, response["Location"]) == (303, "/planning/")
    assert PurchaseOrder.objects.filter(status="draft", lines__product=bulb).count() == 1
    lamp = Product.objects.get(sku="LAMP")
    refused = client.post(f"/planning/{lamp.pk}/draft-po/")
    assert 400 <= refused.status_code < 500
    assert "no preferred supplier" in refused.content.decode()
    assert client.get(f"/planning/{lamp.pk}/draft-po/").status_code == 405
