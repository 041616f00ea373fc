"""GET /api/v1/lots/, GET /api/v1/lots/{id}/ (the recall list), POST .../hold/ and .../release/ (docs/lots.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfilment.services import order_ship
from inventory.lots import LotInput
from inventory.models import Lot, Product, StockMovement
from inventory.services import stock_adjust, warehouse_create
from tests.inventory.factories import ProductFactory
from tests.orders.factories import CustomerFactory


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.fixture
def lots(db, warehouse, place):
    ProductFactory(sku="SERUM", tracking=Product.Tracking.LOT, min_shelf_life_days=30)
    warehouse_create(code="EAST", name="East")
    stock_adjust(
        sku="SERUM",
        warehouse_code="MAIN",
        quantity=10,
        reason="r",
        lots=[LotInput("S1", 6, _in(40)), LotInput("S2", 4, _in(200))],
    )
    stock_adjust(sku="SERUM", warehouse_code="EAST", quantity=3, reason="r", lots=[LotInput("E1", 3, None)])
    shipped = place({"SERUM": 2}, customer=CustomerFactory(external_id="cust-ship", name="Ann"))
    order_ship(order=shipped)
    reserved = place({"SERUM": 3}, customer=CustomerFactory(external_id="cust-wait", name="Bob"))
    stock_adjust(sku="SERUM", warehouse_code="MAIN", quantity=-1, reason="damaged", lots=[LotInput("S1", 1)])
    return {lot.number: lot for lot in Lot.objects.all()}, shipped, reserved


def test_list_with_filters(staff_client, lots, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = staff_client.get("/api/v1/lots/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["number"] for r in rows] == ["S1", "S2", "E1"]  # soonest expiry first, no expiry last
    assert rows[0] | {"id": 0, "updated_at": ""} == {
        "id": 0,
        "sku": "SERUM",
        "warehouse": "MAIN",
        "number": "S1",
        "expiry_date": str(_in(40)),
        "status": "active",
        "hold_reason": "",
        "quantity_received": 6,
        "on_hand": 3,
        "allocated": 3,
        "available": 0,
        "quarantined": 0,
        "updated_at": "",
    }
    numbers = lambda query: [r["number"] for r in staff_client.get(f"/api/v1/lots/?{query}").json()["results"]]  # noqa: E731
    assert numbers("warehouse=EAST") == ["E1"]
    assert numbers(f"expiring_before={_in(100)}") == ["S1"]
    assert numbers("product=SERUM&status=active") == ["S1", "S2", "E1"]
    assert numbers("status=on_hold") == []
    _problem(staff_client.get("/api/v1/lots/?status=gone"), 400, "validation_error")
    _problem(staff_client.get("/api/v1/lots/?expiring_before=soon"), 400, "validation_error")


def test_detail_shows_where_every_unit_went(staff_client, lots):
    by_number, shipped, reserved = lots
    body = staff_client.get(f"/api/v1/lots/{by_number['S1'].pk}/").json()
    assert body["units"] == {
        "received": 6,
        "shipped": 2,
        "reserved": 3,
        "in_stock_free": 0,
        "quarantined": 0,
        "adjusted_out": 1,
        "transferred_out": 0,
    }
    recall = {(r["kind"], r["order"], r["customer_external_id"], r["quantity"]) for r in body["recall"]}
    assert recall == {("shipped", shipped.number, "cust-ship", 2), ("reserved", reserved.number, "cust-wait", 3)}
    assert all(r["shipment"] for r in body["recall"] if r["kind"] == "shipped")
    _problem(staff_client.get("/api/v1/lots/999999/"), 404, "not_found")


def test_hold_and_release(staff_client, lots):
    by_number, _, reserved = lots
    url = f"/api/v1/lots/{by_number['S1'].pk}/"
    _problem(staff_client.post(url + "hold/", {}, format="json"), 400, "validation_error")
    response = staff_client.post(url + "hold/", {"reason": "Supplier recall"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["hold_reason"], body["on_hand"], body["quarantined"]) == (
        "on_hold",
        "Supplier recall",
        0,
        3,
    )
    assert body["units"]["reserved"] == 0 and body["recall"][0]["kind"] == "shipped"
    assert reserved.lines.get().quantity_backordered == 3  # every reserved unit waits again
    _problem(staff_client.post(url + "hold/", {"reason": "again"}, format="json"), 409, "invalid_transition")
    response = staff_client.post(url + "release/", {"reason": "withdrawn"}, format="json")
    assert response.json()["status"] == "active"
    _problem(staff_client.post(url + "release/", {}, format="json"), 409, "invalid_transition")


def test_staff_only_and_permission_checked(channel_client, anon_client, bare_staff_user, lots):
    from rest_framework.test import APIClient

    lot = lots[0]["S1"]
    for client, status in ((channel_client, 403), (anon_client, 401)):
        assert client.get("/api/v1/lots/").status_code == status
        assert client.post(f"/api/v1/lots/{lot.pk}/hold/", {"reason": "x"}, format="json").status_code == status
    bare = APIClient()
    bare.force_authenticate(bare_staff_user)
    assert bare.get(f"/api/v1/lots/{lot.pk}/").status_code == 200
    before = StockMovement.objects.count()
    _problem(bare.post(f"/api/v1/lots/{lot.pk}/hold/", {"reason": "x"}, format="json"), 403, "permission_denied")
    assert StockMovement.objects.count() == before and Lot.objects.get(pk=lot.pk).status == "active"


def test_shipment_lines_name_their_lot(staff_client, lots):
    _, _, reserved = lots
    response = staff_client.post(f"/api/v1/orders/{reserved.number}/ship/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["shipment"]["lines"] == [{"sku": "SERUM", "warehouse": "MAIN", "lot": "S1", "quantity": 3}]
