"""Transfers between warehouses: the state machine, the ledger out and in, no allocated units taken, the units in
transit as dated supply for ETAs, receipt allocating at the destination like a purchase-order receipt; the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders.eta import eta_recompute_product
from backorders.models import Backorder
from core.errors import InvalidTransition
from fulfilment.integrity import integrity_problems
from inventory.exceptions import TransferExceedsAvailable
from inventory.models import StockItem, StockMovement, Transfer, Warehouse
from inventory.transfers import (
    TransferLineRequest,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
)

pytestmark = pytest.mark.django_db

IN_5_DAYS = timezone.localdate() + timedelta(days=5)


@pytest.fixture
def east(warehouse):
    return Warehouse.objects.create(code="EAST", name="East")


def _on_hand(product, code):
    item = StockItem.objects.filter(product=product, warehouse__code=code).first()
    return (item.on_hand, item.allocated) if item else (0, 0)


def _transfer(product, quantity=4, **kwargs):
    return transfer_create(
        source="MAIN",
        destination="EAST",
        lines=[TransferLineRequest(product.sku, quantity)],
        expected_date=IN_5_DAYS,
        **kwargs,
    )


def test_ship_and_receive_move_units_through_the_ledger(make_product, east, staff_user):
    product = make_product(stock=10)
    transfer = _transfer(product, 4, user=staff_user)
    assert transfer.status == Transfer.Status.DRAFT and _on_hand(product, "MAIN") == (10, 0)
    transfer_ship(transfer=transfer, user=staff_user)
    assert _on_hand(product, "MAIN") == (6, 0) and _on_hand(product, "EAST") == (0, 0)
    out = StockMovement.objects.get(kind="transfer_out")
    assert (out.quantity, out.reference, out.stock_item.warehouse.code) == (-4, transfer.number, "MAIN")
    transfer_receive(transfer=transfer, user=staff_user)
    assert _on_hand(product, "EAST") == (4, 0)
    incoming = StockMovement.objects.get(kind="transfer_in")
    assert (incoming.quantity, incoming.stock_item.warehouse.code) == (4, "EAST")
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RECEIVED and transfer.shipped_at and transfer.received_at
    assert integrity_problems() == []


def test_a_transfer_cannot_take_units_reserved_for_orders(make_product, place, east):
    product = make_product(stock=5)
    place({product.sku: 3})  # 3 of MAIN's 5 are allocated
    transfer = _transfer(product, 3)
    with pytest.raises(TransferExceedsAvailable) as error:
        transfer_ship(transfer=transfer)
    assert error.value.code == "transfer_exceeds_available"
    assert error.value.details["lines"] == [{"sku": product.sku, "quantity": 3, "available": 2}]
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DRAFT and _on_hand(product, "MAIN") == (5, 3)
    assert not StockMovement.objects.filter(kind="transfer_out").exists()


def test_illegal_transitions_are_refused(make_product, east):
    product = make_product(stock=5)
    transfer = _transfer(product, 2)
    with pytest.raises(InvalidTransition):
        transfer_receive(transfer=transfer)  # a draft was never shipped
    transfer_ship(transfer=transfer)
    with pytest.raises(InvalidTransition):
        transfer_ship(transfer=transfer)
    transfer_receive(transfer=transfer)
    with pytest.raises(InvalidTransition):
        transfer_cancel(transfer=transfer)
    assert _on_hand(product, "EAST") == (2, 0)


def test_cancelling_in_transit_brings_the_units_back(make_product, east):
    product = make_product(stock=5)
    transfer = _transfer(product, 2)
    transfer_ship(transfer=transfer)
    transfer_cancel(transfer=transfer)
    assert _on_hand(product, "MAIN") == (5, 0)
    assert Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.CANCELLED
    draft = _transfer(product, 1)
    transfer_cancel(transfer=draft)
    assert _on_hand(product, "MAIN") == (5, 0)
    assert integrity_problems() == []


def test_units_in_transit_are_dated_supply_and_receipt_allocates_them(
    make_product, place, east, django_capture_on_commit_callbacks
):
    """An EAST-only channel waits for 2 units while MAIN has 3 free: a transfer brings them over."""
    from orders.models import SalesChannel
    from tests.orders.factories import CustomerFactory

    channel = SalesChannel.objects.create(code="east-shop", name="East shop")
    channel.warehouses.set([east])
    product = make_product(stock=3)
    order = place({product.sku: 2}, channel=channel, customer=CustomerFactory())
    backorder = Backorder.objects.get(order=order)
    assert backorder.quantity_allocated == 0  # MAIN's units are not this channel's
    transfer = _transfer(product, 3)
    transfer_ship(transfer=transfer)
    eta_recompute_product(product_id=product.pk)
    backorder.refresh_from_db()
    assert (backorder.eta, backorder.eta_expected, backorder.eta_basis) == (IN_5_DAYS, IN_5_DAYS, "transfer")
    with django_capture_on_commit_callbacks(execute=True):
        transfer_receive(transfer=transfer)
    backorder.refresh_from_db()
    assert (backorder.quantity_allocated, backorder.status) == (2, "allocated")  # allocated at EAST, as after a PO
    assert _on_hand(product, "EAST") == (3, 2)
    assert integrity_problems() == []


def test_units_in_transit_to_an_inactive_warehouse_are_not_supply(make_product, place, east):
    from backorders.supply import incoming_supply

    product = make_product(stock=3)
    transfer = _transfer(product, 3)
    transfer_ship(transfer=transfer)
    assert incoming_supply(product.pk) == [(None, IN_5_DAYS, 3)]
    Warehouse.objects.filter(pk=east.pk).update(is_active=False)
    assert incoming_supply(product.pk) == []


# --- API ----------------------------------------------------------------------------------------


def _body(product, quantity=2, **extra):
    return {
        "source": "MAIN",
        "destination": "EAST",
        "expected_date": IN_5_DAYS.isoformat(),
        "lines": [{"sku": product.sku, "quantity": quantity}],
        **extra,
    }


def test_api_create_ship_receive_and_read(make_product, east, staff_client, django_assert_max_num_queries):
    product = make_product(stock=5)
    response = staff_client.post("/api/v1/transfers/", _body(product), format="json")
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    assert response.json()["status"] == "draft" and response.json()["lines"][0] == {
        "sku": product.sku,
        "name": product.name,
        "quantity": 2,
        "lots": [],
    }
    assert staff_client.post(f"/api/v1/transfers/{number}/ship/").json()["status"] == "in_transit"
    again = staff_client.post(f"/api/v1/transfers/{number}/ship/")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    assert staff_client.post(f"/api/v1/transfers/{number}/receive/").json()["status"] == "received"
    assert staff_client.get(f"/api/v1/transfers/{number}/").json()["received_at"]
    for i in range(3):
        staff_client.post("/api/v1/transfers/", _body(product, note=f"n{i}"), format="json")
    with django_assert_max_num_queries(8):
        listed = staff_client.get("/api/v1/transfers/?status=draft&warehouse=EAST").json()
    assert listed["count"] == 3
    assert staff_client.get(f"/api/v1/transfers/?sku={product.sku}&status=received").json()["count"] == 1
    assert staff_client.get("/api/v1/transfers/?source=EAST").json()["count"] == 0
    assert staff_client.get("/api/v1/transfers/NOPE/").status_code == 404


def test_api_refuses_allocated_units_and_bad_input_without_writing(make_product, place, east, staff_client):
    product = make_product(stock=2)
    place({product.sku: 2})
    number = staff_client.post("/api/v1/transfers/", _body(product, 1), format="json").json()["number"]
    refused = staff_client.post(f"/api/v1/transfers/{number}/ship/")
    assert (refused.status_code, refused.json()["code"]) == (422, "transfer_exceeds_available")
    assert not StockMovement.objects.filter(kind="transfer_out").exists()
    same = staff_client.post("/api/v1/transfers/", {**_body(product), "destination": "MAIN"}, format="json")
    assert same.status_code == 422
    unknown = staff_client.post("/api/v1/transfers/", {**_body(product), "source": "NOWHERE"}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_warehouse")
    assert Transfer.objects.count() == 1


def test_api_writes_need_permissions(make_product, east, bare_staff_client, staff_client, anon_client):
    product = make_product(stock=5)
    assert bare_staff_client.post("/api/v1/transfers/", _body(product), format="json").status_code == 403
    assert anon_client.get("/api/v1/transfers/").status_code in (401, 403)
    number = staff_client.post("/api/v1/transfers/", _body(product), format="json").json()["number"]
    for action in ("ship", "receive", "cancel"):
        assert bare_staff_client.post(f"/api/v1/transfers/{number}/{action}/").status_code == 403
    assert bare_staff_client.get(f"/api/v1/transfers/{number}/").status_code == 200  # staff may read
    assert Transfer.objects.get(number=number).status == "draft"


# --- dashboard ------------------------------------------------------------------------------------


def test_dashboard_create_ship_receive(make_product, east, client, staff_user):
    product = make_product(stock=5)
    client.force_login(staff_user)
    form = client.get(f"/transfers/new/?source=MAIN&destination=EAST&sku={product.sku}&quantity=2").content.decode()
    assert f'value="{product.sku}"' in form and 'value="2"' in form
    created = client.post(
        "/transfers/create/",
        {"source": "MAIN", "destination": "EAST", "sku": product.sku, "quantity": "2", "expected_date": ""},
    )
    assert created.status_code == 303
    number = Transfer.objects.get().number
    detail = client.get(f"/transfers/{number}/").content.decode()
    assert "Ship (units leave MAIN)" in detail
    assert client.post(f"/transfers/{number}/ship/").status_code == 303
    assert client.post(f"/transfers/{number}/receive/").status_code == 303
    assert _on_hand(product, "EAST") == (2, 0)
    listed = client.get("/transfers/?status=received&warehouse=EAST").content.decode()
    assert number in listed
    refused = client.post(f"/transfers/{number}/ship/")  # received: an illegal transition
    assert refused.status_code == 409
    assert client.post(f"/transfers/{number}/nonsense/").status_code in (403, 404)
    assert integrity_problems() == []
