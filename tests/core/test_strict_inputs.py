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


@pytest.mark.parametrize("name", ["Ann\nSmith", "Ann\x00", "\u202eevil.exe", "Tab\there", "x\u2066y"])
def test_names_with_control_characters_or_bidi_overrides_are_refused(make_product, channel_client, name):
    make_product(sku="A-1", stock=5)
    body = {**order(1), "customer": {"external_id": "c-1", "email": "a@example.com", "name": name}}
    problem = assert_problem(channel_client.post("/api/v1/orders/", body, format="json"), 400, "validation_error")
    assert "name" in str(problem["errors"])
    assert not Order.objects.exists()


def test_a_product_name_is_checked_too_and_plain_unicode_is_fine(staff_client):
    bad = {"sku": "N-1", "name": "Lamp\u202e", "unit_price": "5.00"}
    assert_problem(staff_client.post("/api/v1/products/", bad, format="json"), 400, "validation_error")
    good = {"sku": "N-1", "name": "Lampe à poser — 日本", "unit_price": "5.00"}
    assert staff_client.post("/api/v1/products/", good, format="json").status_code == 201


def test_a_requested_date_in_the_past_is_refused(make_product, channel_client):
    make_product(sku="A-1", stock=5)
    body = {**order(1), "requested_date": "2001-01-01"}
    problem = assert_problem(channel_client.post("/api/v1/orders/", body, format="json"), 422, "date_out_of_range")
    assert problem["details"]["field"] == "requested_date"
    assert not Order.objects.exists()


@pytest.mark.parametrize("expected", ["2001-01-01", "9999-12-31"], ids=["past", "year-9999"])
def test_a_purchase_order_date_outside_the_horizon_is_refused(make_product, staff_client, expected):
    from suppliers.models import PurchaseOrder
    from suppliers.services import supplier_create

    make_product(sku="A-1")
    supplier_create(code="acme", name="Acme")
    body = {
        "supplier": "acme",
        "warehouse": "MAIN",
        "expected_date": expected,
        "lines": [{"sku": "A-1", "quantity": 5}],
    }
    problem = assert_problem(
        staff_client.post("/api/v1/purchase-orders/", body, format="json"), 422, "date_out_of_range"
    )
    assert problem["details"]["field"] == "expected_date"
    assert not PurchaseOrder.objects.exists()


def test_an_allocation_policy_refuses_negative_weights(db):
    from decimal import Decimal

    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    from backorders.models import AllocationPolicy

    policy = AllocationPolicy(name="Odd", gold_weight=Decimal("-5"))
    with pytest.raises(ValidationError):
        policy.full_clean()  # what the admin form runs
    with pytest.raises(IntegrityError), transaction.atomic():
        policy.save()  # and the database refuses it anyway
