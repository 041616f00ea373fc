"""Inputs are strict and errors explicit: nothing is silently coerced or defaulted (the API's promise)."""

from __future__ import annotations

import pytest

from inventory.models import StockMovement
from orders.models import Order
from tests.inventory.test_api import assert_problem

pytestmark = pytest.mark.django_db


def order(quantity):
    return {
        "customer": {"external_id": "c-1", "email": "a@example.com", "name": "A"},
        "lines": [{"sku": "A-1", "quantity": quantity}],
    }


@pytest.mark.parametrize("quantity", [2.0, "2", True, 2.5, "two"], ids=["float", "string", "bool", "fraction", "word"])
def test_quantities_are_json_integers(make_product, channel_client, quantity):
    make_product(sku="A-1", stock=5)
    body = assert_problem(
        channel_client.post("/api/v1/orders/", order(quantity), format="json"), 400, "validation_error"
    )
    assert "quantity" in str(body["errors"])
    assert not Order.objects.exists()
    assert channel_client.post("/api/v1/orders/", order(2), format="json").status_code == 201


def test_a_stock_adjustment_quantity_must_be_an_integer(make_product, staff_client):
    make_product(sku="A-1")
    before = StockMovement.objects.count()
    response = staff_client.post(
        "/api/v1/stock/adjustments/",
        {"sku": "A-1", "warehouse": "MAIN", "quantity": "5", "reason": "count"},
        format="json",
    )
    body = assert_problem(response, 400, "validation_error")
    assert "quantity" in body["errors"]
    assert StockMovement.objects.count() == before


@pytest.mark.parametrize("value", ["-1", "0", "abc", "1.5", ""])
def test_an_invalid_page_size_is_a_400_naming_it(staff_client, value):
    body = assert_problem(staff_client.get("/api/v1/orders/", {"page_size": value}), 400, "validation_error")
    assert "page_size" in body["errors"]


@pytest.mark.parametrize("value", ["abc", "0", "-2"])
def test_an_invalid_page_is_a_400_not_a_404(staff_client, value):
    body = assert_problem(staff_client.get("/api/v1/orders/", {"page": value}), 400, "validation_error")
    assert "page" in body["errors"]


def test_a_page_past_the_end_is_still_a_404(staff_client):
    assert_problem(staff_client.get("/api/v1/orders/", {"page": "7"}), 404, "not_found")


def test_a_valid_page_size_is_honoured_and_capped(staff_client):
    assert staff_client.get("/api/v1/orders/", {"page_size": "10"}).status_code == 200
    assert staff_client.get("/api/v1/orders/", {"page_size": "100000"}).status_code == 200


def test_an_unknown_ordering_is_a_400_naming_it(staff_client):
    body = assert_problem(staff_client.get("/api/v1/notifications/", {"ordering": "secret"}), 400, "validation_error")
    assert "ordering" in body["errors"]
    assert staff_client.get("/api/v1/notifications/", {"ordering": "-created_at"}).status_code == 200
