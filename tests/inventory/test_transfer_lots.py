"""Transfers of lot-tracked products (docs/warehouses.md, docs/lots.md): a line names the source's lots; they leave
the source by the ledger naming each lot, arrive as the same lot numbers with the same expiry (FEFO and recall lists
follow them), and nothing is written for a line without lots, an unknown lot or a lot short of free units."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfilment.integrity import integrity_problems
from inventory.exceptions import InsufficientStock, LotRequired, UnknownLot
from inventory.lots import LotInput
from inventory.models import Lot, Product, StockMovement, Transfer, Warehouse
from inventory.services import stock_adjust
from inventory.transfers import TransferLineRequest, transfer_cancel, transfer_create, transfer_receive, transfer_ship
from tests.inventory.factories import ProductFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/transfers/"


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def milk(warehouse):
    Warehouse.objects.create(code="EAST", name="East")
    product = ProductFactory(sku="MILK", tracking=Product.Tracking.LOT, min_shelf_life_days=5)
    stock_adjust(
        sku="MILK",
        warehouse_code="MAIN",
        quantity=8,
        reason="opening count",
        lots=[LotInput("A", 5, _in(20)), LotInput("B", 3, None)],
    )
    return product


def _lot(number, code):
    return Lot.objects.filter(number=number, warehouse__code=code).first()


def _create(lots, quantity=None):
    quantity = quantity if quantity is not None else sum(lot.quantity for lot in lots or [])
    return transfer_create(
        source="MAIN",
        destination="EAST",
        lines=[TransferLineRequest("MILK", quantity, lots)],
        expected_date=_in(3),
    )


def test_lots_leave_by_the_ledger_and_arrive_with_their_number_and_expiry(milk):
    transfer = _create([LotInput("A", 4), LotInput("B", 1)])
    transfer_ship(transfer=transfer)
    assert (_lot("A", "MAIN").on_hand, _lot("B", "MAIN").on_hand) == (1, 2)
    assert _lot("A", "EAST") is None
    out = set(StockMovement.objects.filter(kind="transfer_out").values_list("lot__number", "quantity"))
    assert out == {("A", -4), ("B", -1)}
    transfer_receive(transfer=Transfer.objects.get(pk=transfer.pk))
    east_a, east_b = _lot("A", "EAST"), _lot("B", "EAST")
    assert (east_a.on_hand, east_a.expiry_date) == (4, _in(20))
    assert (east_b.on_hand, east_b.expiry_date) == (1, None)
    arrived = set(StockMovement.objects.filter(kind="transfer_in").values_list("lot__number", "lot__warehouse__code"))
    assert arrived == {("A", "EAST"), ("B", "EAST")}
    assert integrity_problems() == []


def test_the_source_lots_units_still_add_up_after_a_transfer(milk, staff_client):
    transfer_ship(transfer=_create([LotInput("A", 4)]))
    lot = _lot("A", "MAIN")
    units = staff_client.get(f"/api/v1/lots/{lot.pk}/").json()["units"]
    assert (units["received"], units["transferred_out"], units["in_stock_free"]) == (5, 4, 1)
    assert units["received"] == sum(v for k, v in units.items() if k != "received")


def test_cancelling_in_transit_puts_the_units_back_into_their_lots(milk):
    transfer = _create([LotInput("A", 5)])
    transfer_ship(transfer=transfer)
    assert _lot("A", "MAIN").on_hand == 0
    transfer_cancel(transfer=Transfer.objects.get(pk=transfer.pk))
    assert _lot("A", "MAIN").on_hand == 5 and _lot("A", "EAST") is None
    assert integrity_problems() == []


def test_a_line_of_a_tracked_product_must_name_existing_lots_adding_up(milk):
    with pytest.raises(LotRequired):
        _create(None, quantity=2)
    with pytest.raises(UnknownLot):
        _create([LotInput("NOPE", 2)])
    with pytest.raises(Exception) as wrong_sum:
        _create([LotInput("A", 2)], quantity=3)
    assert wrong_sum.value.code == "invalid_input"
    assert not Transfer.objects.exists()


def test_shipping_more_than_a_lots_free_units_writes_nothing(milk):
    transfer = _create([LotInput("B", 3)])
    stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=-2, reason="damaged", lots=[LotInput("B", 2)])
    before = StockMovement.objects.count()
    with pytest.raises(InsufficientStock):
        transfer_ship(transfer=transfer)
    assert StockMovement.objects.count() == before
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.DRAFT


def test_api_lot_transfer_round_trip_and_errors(milk, staff_client):
    body = {
        "source": "MAIN",
        "destination": "EAST",
        "expected_date": _in(3).isoformat(),
        "lines": [{"sku": "MILK", "quantity": 2, "lots": [{"number": "A", "quantity": 2}]}],
    }
    created = staff_client.post(API, body, format="json")
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    assert created.json()["lines"][0]["lots"] == [{"number": "A", "quantity": 2, "expiry_date": None}]
    shipped = staff_client.post(f"{API}{number}/ship/").json()
    assert shipped["lines"][0]["lots"] == [{"number": "A", "quantity": 2, "expiry_date": _in(20).isoformat()}]
    assert staff_client.post(f"{API}{number}/receive/").json()["status"] == "received"
    assert _lot("A", "EAST").on_hand == 2
    no_lots = {**body, "lines": [{"sku": "MILK", "quantity": 2}]}
    refused = staff_client.post(API, no_lots, format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "lot_required")
    unknown = {**body, "lines": [{"sku": "MILK", "quantity": 1, "lots": [{"number": "Z", "quantity": 1}]}]}
    refused = staff_client.post(API, unknown, format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "unknown_lot")
    assert Transfer.objects.count() == 1
