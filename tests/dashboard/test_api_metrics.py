from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.inventory.factories import ProductFactory

from .factories import make_backorder, make_order

URL = "/api/v1/metrics/"


@pytest.fixture
def waiting_backorder(db):
    product = ProductFactory(sku="MX-1", unit_price=Decimal("12.50"))
    _, (line,) = make_order(placed_at=timezone.now(), lines=[(product, 4, 4)])
    return make_backorder(line, created_at=timezone.now())


def test_metrics_for_staff_returns_kpis_and_charts(staff_client, waiting_backorder):
    response = staff_client.get(URL, {"days": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 7
    assert body["kpis"]["open_backorders"]["value"] == 1
    assert body["kpis"]["open_value"]["value"] == "50.00"
    assert body["kpis"]["backorder_rate_units"]["value"] == 1.0
    assert body["kpis"]["line_fill_rate"]["definition"]
    assert len(body["charts"]["opened_closed_per_day"]) == 8
    assert body["charts"]["top_products"][0] == {"sku": "MX-1", "name": waiting_backorder.product.name,
                                                 "units": 4, "backorders": 1}  # fmt: skip
    assert [b["count"] for b in body["charts"]["aging_buckets"]] == [1, 0, 0, 0]


def test_metrics_default_period_is_30_days(staff_client, db):
    assert staff_client.get(URL).json()["days"] == 30


@pytest.mark.parametrize("days", ["0", "abc", "366", "-5"])
def test_metrics_rejects_bad_days_with_problem_json(staff_client, db, days):
    response = staff_client.get(URL, {"days": days})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"
    assert "days" in response.json()["errors"]


def test_metrics_refuses_anonymous_and_non_staff(db, django_user_model):
    assert APIClient().get(URL).status_code == 401
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("clerk", password="x"))
    response = client.get(URL)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_metrics_refuses_channel_api_keys(channel_client):
    assert channel_client.get(URL).status_code == 403
