"""Consent at order time (accept / ship_available / decline), the requested date and the customer's terms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder
from inventory.models import StockItem
from notifications.models import Notification
from orders.models import Customer, CustomerTerms, Order, OrderLine
from tests.fulfilment.test_api import ORDERS, assert_nothing_written, body
from tests.inventory.test_api import assert_problem
from tests.suppliers.factories import PurchaseOrderLineFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _incoming(product, days: int, quantity: int = 50):
    PurchaseOrderLineFactory(
        product=product,
        quantity_ordered=quantity,
        purchase_order__expected_date=timezone.localdate() + timedelta(days=days),
    )


def test_accept_is_the_default_and_backorders_the_shortfall(make_product, channel_client):
    make_product(sku="A-1", stock=1)
    response = channel_client.post(ORDERS, body({"A-1": 3}), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["backorders"][0]["quantity"] == 2
    assert response.json()["dropped"] == []


def test_ship_available_takes_what_is_in_stock_and_drops_the_rest(make_product, channel_client):
    make_product(sku="A-1", stock=1, unit_price="10.00")
    make_product(sku="B-1", stock=5, unit_price="3.00")
    make_product(sku="C-1", stock=0, backorderable=False)
    response = channel_client.post(
        ORDERS, body({"A-1": 3, "B-1": 2, "C-1": 1}, backorder_consent="ship_available"), format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "open" and data["backorders"] == []
    assert sorted(data["dropped"], key=lambda d: d["sku"]) == [
        {"sku": "A-1", "requested": 3, "dropped": 2},
        {"sku": "C-1", "requested": 1, "dropped": 1},
    ]
    lines = {line["sku"]: line for line in data["lines"]}
    assert (lines["A-1"]["allocated"], lines["A-1"]["cancelled"], lines["A-1"]["backordered"]) == (1, 2, 0)
    assert data["total"] == "16.00"  # what is kept: 1 × 10 + 2 × 3
    assert not Backorder.objects.exists()
    assert not Notification.objects.exists()


def test_ship_available_with_nothing_in_stock_writes_nothing(make_product, channel_client):
    make_product(sku="A-1", stock=0)
    response = channel_client.post(ORDERS, body({"A-1": 3}, backorder_consent="ship_available"), format="json")
    assert_problem(response, 409, "nothing_available")
    assert_nothing_written()


def test_ship_available_in_stock_order_adds_no_query(make_product, channel_client, django_assert_num_queries):
    make_product(sku="A-1", stock=10)
    channel_client.post(ORDERS, body({"A-1": 1}), format="json")  # warm up (customer exists)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as plain:
        channel_client.post(ORDERS, body({"A-1": 1}), format="json")
    with CaptureQueriesContext(connection) as consent:
        channel_client.post(ORDERS, body({"A-1": 1}, backorder_consent="decline"), format="json")
    assert len(consent) == len(plain)
    # The terms are read in passing by the stock-locking statement (PostgreSQL), never by a statement of their own.
    assert not any(
        "customerterms" in q["sql"] and "inventory_stockitem" not in q["sql"] for q in plain.captured_queries
    )


def test_decline_refuses_when_anything_would_wait_and_writes_nothing(make_product, channel_client):
    make_product(sku="A-1", stock=5)
    make_product(sku="B-1", stock=1)
    response = channel_client.post(ORDERS, body({"A-1": 2, "B-1": 3}, backorder_consent="decline"), format="json")
    problem = assert_problem(response, 409, "backorder_declined")
    assert "B-1" in problem["detail"]
    assert_nothing_written()
    assert not Customer.objects.exists()


def test_decline_places_an_order_that_is_fully_in_stock(make_product, channel_client):
    make_product(sku="A-1", stock=5)
    response = channel_client.post(ORDERS, body({"A-1": 2}, backorder_consent="decline"), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "open"


def test_requested_date_before_the_eta_refuses_under_decline(make_product, channel_client):
    product = make_product(sku="A-1", stock=0)
    _incoming(product, days=20)
    requested = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = channel_client.post(
        ORDERS, body({"A-1": 2}, backorder_consent="decline", requested_date=requested), format="json"
    )
    assert_problem(response, 409, "eta_beyond_requested_date")
    assert_nothing_written()


def test_requested_date_before_the_eta_marks_the_line_at_risk_under_accept(make_product, channel_client):
    late, on_time = make_product(sku="LATE", stock=0), make_product(sku="SOON", stock=0)
    _incoming(late, days=20)
    _incoming(on_time, days=5)
    requested = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = channel_client.post(ORDERS, body({"LATE": 2, "SOON": 1}, requested_date=requested), format="json")
    assert response.status_code == 201, response.content
    lines = {line["sku"]: line["at_risk"] for line in response.json()["lines"]}
    assert lines == {"LATE": True, "SOON": False}
    assert OrderLine.objects.get(product=late).at_risk is True
    etas = {b["sku"]: b["eta"] for b in response.json()["backorders"]}
    assert etas["LATE"] == (timezone.localdate() + timedelta(days=20)).isoformat()


def _terms_for_channel(channel, **fields):
    return CustomerTerms.objects.create(channel=channel, **fields)


def test_max_wait_days_works_like_the_requested_date(make_product, channel_client, channel_key):
    _terms_for_channel(channel_key[0], max_wait_days=7)
    product = make_product(sku="A-1", stock=0)
    _incoming(product, days=20)
    refused = channel_client.post(ORDERS, body({"A-1": 1}, backorder_consent="decline"), format="json")
    assert_problem(refused, 409, "eta_beyond_max_wait")
    assert_nothing_written()
    accepted = channel_client.post(ORDERS, body({"A-1": 1}), format="json")
    assert accepted.status_code == 201
    assert accepted.json()["lines"][0]["at_risk"] is True


def test_customer_terms_replace_the_channel_default(make_product, channel_client, channel_key, place):
    channel = channel_key[0]
    _terms_for_channel(channel, max_wait_days=7)
    product = make_product(sku="A-1", stock=0)
    _incoming(product, days=20)
    channel_client.post(ORDERS, body({"A-1": 1}), format="json")  # creates the customer
    CustomerTerms.objects.create(customer=Customer.objects.get(), max_wait_days=60)
    response = channel_client.post(ORDERS, body({"A-1": 1}), format="json")
    assert response.json()["lines"][0]["at_risk"] is False


def test_terms_set_sla_and_ship_complete(make_product, channel_client, channel_key):
    _terms_for_channel(channel_key[0], sla_days=10, allow_partial=False)
    make_product(sku="A-1", stock=1)
    before = timezone.now()
    response = channel_client.post(ORDERS, body({"A-1": 3}, ship_policy="partial"), format="json")
    assert response.status_code == 201
    order = Order.objects.get()
    assert order.ship_policy == "complete"
    backorder = Backorder.objects.get()
    assert backorder.sla_due_at == order.placed_at + timedelta(days=10)
    assert before + timedelta(days=10) <= backorder.sla_due_at
    assert response.json()["backorders"][0]["sla_due_at"] is not None
    assert response.json()["backorders"][0]["sla_breached"] is False


def test_unknown_consent_is_a_validation_error(make_product, channel_client):
    make_product(sku="A-1", stock=1)
    response = channel_client.post(ORDERS, body({"A-1": 1}, backorder_consent="maybe"), format="json")
    assert response.status_code == 400
    assert not StockItem.objects.filter(allocated__gt=0).exists()
