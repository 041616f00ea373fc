"""Dashboard pages of lots: the list with expiry, the lot with its recall list, hold and release (with permissions)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.lots import LotInput
from inventory.models import Lot, Product
from inventory.services import stock_adjust
from tests.inventory.factories import ProductFactory
from tests.orders.factories import CustomerFactory


@pytest.fixture
def lot_data(warehouse, place):
    ProductFactory(sku="BALM", tracking=Product.Tracking.LOT, min_shelf_life_days=30)
    today = timezone.localdate()
    stock_adjust(
        sku="BALM",
        warehouse_code="MAIN",
        quantity=5,
        reason="r",
        lots=[LotInput("B-1", 3, today + timedelta(days=40)), LotInput("B-2", 2, today + timedelta(days=80))],
    )
    order = place({"BALM": 2}, customer=CustomerFactory(external_id="who-1", name="Carla"))
    return Lot.objects.get(number="B-1"), order


def test_lot_list_and_detail(client, staff_user, lot_data, django_assert_max_num_queries):
    lot, order = lot_data
    client.force_login(staff_user)
    with django_assert_max_num_queries(12):
        page = client.get("/lots/?product=BALM")
    assert page.status_code == 200
    html = page.content.decode()
    assert "B-1" in html and "B-2" in html and html.index("B-1") < html.index("B-2")
    detail = client.get(f"/lots/{lot.pk}/").content.decode()
    assert order.number in detail and "Carla" in detail and "Put on hold" in detail
    assert client.get("/lots/999999/").status_code == 404


def test_hold_and_release_from_the_page(client, staff_user, bare_staff_user, lot_data):
    lot, order = lot_data
    client.force_login(bare_staff_user)
    assert client.post(f"/lots/{lot.pk}/hold/", {"reason": "recall"}).status_code == 403
    client.force_login(staff_user)
    assert client.post(f"/lots/{lot.pk}/hold/", {"reason": ""}).status_code == 422
    assert Lot.objects.get(pk=lot.pk).status == "active"
    response = client.post(f"/lots/{lot.pk}/hold/", {"reason": "Recall R-9"})
    assert response.status_code == 303
    assert Lot.objects.get(pk=lot.pk).status == "on_hold"
    assert order.lines.get().quantity_backordered == 2
    assert client.post(f"/lots/{lot.pk}/hold/", {"reason": "again"}).status_code == 409
    assert client.post(f"/lots/{lot.pk}/release/", {"reason": "ok"}).status_code == 303
    assert Lot.objects.get(pk=lot.pk).status == "active"
