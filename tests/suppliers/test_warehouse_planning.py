"""Shortages and planning per warehouse (?warehouse=): that warehouse's stock side, and a transfer from the warehouse
with the most free units suggested before a purchase order (docs/warehouses.md); the dashboard pages show which."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Warehouse
from inventory.services import stock_adjust
from inventory.transfers import TransferLineRequest, transfer_create, transfer_ship
from orders.models import SalesChannel
from suppliers.planning import replenishment_plan
from suppliers.selectors import shortages
from tests.orders.factories import CustomerFactory
from tests.suppliers.factories import SupplierProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def east_short(make_product, place, warehouse):
    """An EAST-only channel waits for 6 units of TEA; MAIN has 10 free (not the channel's), EAST 1 in transit."""
    east = Warehouse.objects.create(code="EAST", name="East", priority=2)
    channel = SalesChannel.objects.create(code="east-shop", name="East shop")
    channel.warehouses.set([east])
    product = make_product(sku="TEA", stock=11)
    SupplierProductFactory(product=product, preferred=True, lead_time_days=7, min_order_quantity=1, pack_size=1)
    transfer = transfer_create(
        source="MAIN",
        destination="EAST",
        lines=[TransferLineRequest("TEA", 1)],
        expected_date=timezone.localdate() + timedelta(days=3),
    )
    transfer_ship(transfer=transfer)
    place({"TEA": 6}, channel=channel, customer=CustomerFactory())
    return product


def test_shortages_seen_from_a_warehouse_suggest_a_transfer_first(east_short):
    [network] = shortages()  # every active warehouse together: MAIN's 10 free count, no transfer suggested
    assert (network["available"], network["uncovered"], network["transfer_from"]) == (10, 0, None)
    [row] = shortages(warehouse="EAST")
    assert (row["demand"], row["available"], row["incoming"], row["uncovered"]) == (6, 0, 1, 5)
    assert (row["transfer_from"], row["transfer_quantity"], row["suggested_quantity"]) == ("MAIN", 5, 0)
    assert shortages(warehouse="MAIN") == []  # MAIN may not serve the EAST-only channel's line


def test_a_transfer_covers_what_it_can_and_the_purchase_order_the_rest(east_short, place):
    stock_adjust(sku="TEA", warehouse_code="MAIN", quantity=-8, reason="damaged")  # MAIN keeps 2 free
    [row] = shortages(warehouse="EAST")
    assert (row["uncovered"], row["transfer_from"], row["transfer_quantity"], row["suggested_quantity"]) == (
        5,
        "MAIN",
        2,
        3,
    )


def test_planning_per_warehouse(east_short):
    [row] = replenishment_plan(warehouse="EAST", today=timezone.localdate())
    assert (row["available"], row["incoming"], row["waiting"]) == (0, 1, 6)
    assert row["reorder_now"] is True
    assert row["transfer_from"] == "MAIN" and row["transfer_quantity"] > 0
    [everywhere] = replenishment_plan(today=timezone.localdate())
    assert (everywhere["available"], everywhere["incoming"], everywhere["transfer_from"]) == (10, 1, None)


def test_api_and_pages_take_the_warehouse(east_short, staff_client, client, staff_user):
    body = staff_client.get("/api/v1/shortages/?warehouse=EAST").json()
    assert body["results"][0]["transfer_from"] == "MAIN"
    unknown = staff_client.get("/api/v1/shortages/?warehouse=NOPE")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_warehouse")
    plan = staff_client.get("/api/v1/planning/?warehouse=EAST").json()
    assert plan["results"][0]["transfer_from"] == "MAIN"
    client.force_login(staff_user)
    page = client.get("/shortages/?warehouse=EAST").content.decode()
    assert "data-transfer-suggestion" in page and "from MAIN" in page
    assert "transfers/new/?source=MAIN&amp;destination=EAST&amp;sku=TEA&amp;quantity=5" in page
    planning = client.get("/planning/?warehouse=EAST").content.decode()
    assert "transfer <strong>" in planning
