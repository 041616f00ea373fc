"""Suppliers API over real URLs, auth and the problem+json error handler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.models import Backorder, BackorderEvent
from inventory.models import StockMovement
from suppliers.models import ExpectedDateRevision, PurchaseOrder, Receipt, Supplier, SupplierProduct
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierFactory

DAY = timezone.localdate() + timedelta(days=10)


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.fixture
def po(staff_client, make_product, warehouse):
    product = make_product(sku="WIDGET-1")
    SupplierFactory(code="acme")
    response = staff_client.post(
        "/api/v1/purchase-orders/",
        {
            "supplier": "acme",
            "warehouse": "MAIN",
            "expected_date": DAY.isoformat(),
            "lines": [{"sku": product.sku, "quantity": 5}],
            "send": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_supplier_and_supplier_product(staff_client, make_product):
    make_product(sku="CAB-1")
    response = staff_client.post(
        "/api/v1/suppliers/", {"code": "acme", "name": "Acme", "email": "a@acme.test"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["updated_at"]
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        "code": "acme",
        "name": "Acme",
        "email": "a@acme.test",
        "is_active": True,
    }
    body = {
        "supplier": "acme",
        "sku": "CAB-1",
        "lead_time_days": 12,
        "min_order_quantity": 10,
        "pack_size": 5,
        "unit_cost": "1.50",
        "preferred": True,
    }
    response = staff_client.post("/api/v1/supplier-products/", body, format="json")
    assert response.status_code == 201
    assert response.json()["pack_size"] == 5 and response.json()["preferred"] is True
    _problem(
        staff_client.post("/api/v1/suppliers/", {"code": "acme", "name": "Again"}, format="json"), 422, "invalid_input"
    )
    _problem(
        staff_client.post("/api/v1/supplier-products/", {**body, "supplier": "nope"}, format="json"),
        422,
        "unknown_supplier",
    )
    _problem(
        staff_client.post("/api/v1/supplier-products/", {**body, "pack_size": 0}, format="json"),
        400,
        "validation_error",
    )
    assert Supplier.objects.count() == 1 and SupplierProduct.objects.count() == 1


def test_purchase_order_create_get_and_bad_input(staff_client, po):
    assert po["status"] == "sent" and po["number"].startswith("PO-")
    assert po["lines"] == [
        {"sku": "WIDGET-1", "quantity": 5, "quantity_received": 0, "quantity_outstanding": 5,
         "expected_date": DAY.isoformat(), "original_expected_date": DAY.isoformat(), "date_revisions": []}
    ]  # fmt: skip
    assert staff_client.get(f"/api/v1/purchase-orders/{po['number']}/").json() == po
    ok = {"supplier": "acme", "warehouse": "MAIN", "expected_date": DAY.isoformat()}
    one = [{"sku": "WIDGET-1", "quantity": 1}]
    bad = [
        ({**ok, "expected_date": "soon", "lines": one}, 400, "validation_error"),
        ({**ok, "lines": []}, 400, "validation_error"),
        ({**ok, "lines": [{"sku": "NOPE", "quantity": 1}]}, 422, "unknown_sku"),
        ({**ok, "warehouse": "NOWHERE", "lines": one}, 422, "unknown_warehouse"),
        ({**ok, "supplier": "nope", "lines": one}, 422, "unknown_supplier"),
        ({**ok, "lines": one * 2}, 422, "invalid_input"),
        ({**ok, "lines": [{"sku": "WIDGET-1", "quantity": 10**12}]}, 400, "validation_error"),
        ({**ok, "lines": one, "colour": "red"}, 400, "validation_error"),
        ([1, 2], 400, "validation_error"),
    ]
    for body, status, code in bad:
        _problem(staff_client.post("/api/v1/purchase-orders/", body, format="json"), status, code)
    assert PurchaseOrder.objects.count() == 1
    _problem(staff_client.get("/api/v1/purchase-orders/PO-NOPE/"), 404, "not_found")


def test_revise_dates_and_cancel(staff_client, po):
    url = f"/api/v1/purchase-orders/{po['number']}/"
    later = DAY + timedelta(days=5)
    _problem(staff_client.patch(url, {"expected_date": later.isoformat()}, format="json"), 400, "validation_error")
    response = staff_client.patch(url, {"expected_date": later.isoformat(), "reason": "carrier delay"}, format="json")
    assert response.status_code == 200
    [line] = response.json()["lines"]
    assert line["expected_date"] == later.isoformat() and line["original_expected_date"] == DAY.isoformat()
    assert [(r["old_date"], r["new_date"], r["reason"]) for r in line["date_revisions"]] == [
        (DAY.isoformat(), later.isoformat(), "carrier delay")
    ]
    response = staff_client.post(f"{url}cancel/", {"reason": "found cheaper"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    _problem(staff_client.post(f"{url}cancel/", {}, format="json"), 409, "invalid_transition")
    _problem(
        staff_client.patch(url, {"expected_date": DAY.isoformat(), "reason": "x"}, format="json"),
        409,
        "invalid_transition",
    )
    assert ExpectedDateRevision.objects.count() == 1


def test_receive_partial_then_over_receipt_refused(staff_client, po, place, django_capture_on_commit_callbacks):
    order = place({"WIDGET-1": 2})
    url = f"/api/v1/purchase-orders/{po['number']}/receive/"
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"lines": [{"sku": "WIDGET-1", "quantity": 3}]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "partially_received" and response.json()["receipt"]
    backorder = Backorder.objects.get(order=order)
    assert backorder.status == "allocated"

    before = (StockMovement.objects.count(), Receipt.objects.count(), BackorderEvent.objects.count())
    response = staff_client.post(url, {"lines": [{"sku": "WIDGET-1", "quantity": 3}]}, format="json")
    _problem(response, 422, "over_receipt")
    assert response.json()["details"]["lines"][0]["outstanding"] == 2
    _problem(staff_client.post(url, {"lines": [{"sku": "OTHER", "quantity": 1}]}, format="json"), 422, "unknown_sku")
    _problem(
        staff_client.post(url, {"lines": [{"sku": "WIDGET-1", "quantity": 0}]}, format="json"), 400, "validation_error"
    )
    _problem(staff_client.post(url, {"lines": "all"}, format="json"), 400, "validation_error")
    assert (StockMovement.objects.count(), Receipt.objects.count(), BackorderEvent.objects.count()) == before

    response = staff_client.post(url, {"lines": [{"sku": "WIDGET-1", "quantity": 2}]}, format="json")
    assert response.json()["status"] == "received"


def test_staff_only(channel_client, anon_client, po):
    for client, status in ((channel_client, 403), (anon_client, 401)):
        number = po["number"]
        for method, url in [
            ("get", "/api/v1/suppliers/"),
            ("post", "/api/v1/purchase-orders/"),
            ("get", f"/api/v1/purchase-orders/{number}/"),
            ("post", f"/api/v1/purchase-orders/{number}/receive/"),
            ("get", "/api/v1/shortages/"),
        ]:
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == status, (url, response.content)
            assert response["Content-Type"].startswith("application/problem+json")
    assert Receipt.objects.count() == 0


def test_shortages_endpoint(staff_client, make_product, place, django_assert_max_num_queries):
    product = make_product(sku="SHORT-1")
    place({product.sku: 7})
    PurchaseOrderLineFactory(product=product, quantity_ordered=3, purchase_order__supplier=SupplierFactory(code="acme"))
    with django_assert_max_num_queries(8):
        response = staff_client.get("/api/v1/shortages/")
    assert response.status_code == 200
    assert response.json()["count"] == 1  # paginated like every other list
    [row] = response.json()["results"]
    keys = ["sku", "demand", "incoming", "uncovered", "supplier", "suggested_quantity"]
    assert [row[key] for key in keys] == ["SHORT-1", 7, 3, 4, None, 0]


def test_product_detail_shows_restock_and_backorder_eta(channel_client, make_product, place):
    product = make_product(sku="ETA-1")
    place({product.sku: 1})
    line = PurchaseOrderLineFactory(product=product, quantity_ordered=4)
    body = channel_client.get("/api/v1/products/ETA-1/").json()
    expected = line.expected_date.isoformat()
    assert (body["next_restock_date"], body["backorder_eta"], body["backorder_eta_basis"]) == (
        expected,
        expected,
        "purchase_order",
    )
