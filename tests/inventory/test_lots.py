"""Lots of lot-tracked products: receipts and adjustments must name their lots (docs/lots.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfilment.integrity import integrity_problems
from inventory.exceptions import InsufficientStock, LotExpired, LotRequired
from inventory.lots import LotInput
from inventory.models import Lot, Product, StockItem, StockMovement
from inventory.services import StockCount, stock_adjust, stock_counts_apply
from suppliers.models import PurchaseOrder, Receipt
from suppliers.services import ReceiptLineRequest, purchase_order_receive
from tests.inventory.factories import ProductFactory
from tests.suppliers.factories import PurchaseOrderFactory, PurchaseOrderLineFactory


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def milk(db, warehouse):
    return ProductFactory(sku="MILK", tracking=Product.Tracking.LOT, min_shelf_life_days=30)


def _counts():
    return (StockMovement.objects.count(), Lot.objects.count(), Receipt.objects.count(), StockItem.objects.count())


def test_adjustment_into_lots_keeps_stock_item_the_sum_of_its_lots(milk, warehouse):
    stock_adjust(
        sku="MILK",
        warehouse_code="MAIN",
        quantity=8,
        reason="opening count",
        lots=[LotInput("A", 5, _in(10)), LotInput("B", 3, None)],
    )
    stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=2, reason="found", lots=[LotInput("A", 2, _in(10))])
    lots = {lot.number: lot for lot in Lot.objects.all()}
    assert (lots["A"].on_hand, lots["A"].quantity_received, lots["A"].expiry_date) == (7, 7, _in(10))
    assert (lots["B"].on_hand, lots["B"].expiry_date) == (3, None)
    item = StockItem.objects.get(product=milk)
    assert item.on_hand == 10
    assert set(StockMovement.objects.values_list("lot__number", "quantity")) == {("A", 5), ("B", 3), ("A", 2)}
    stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=-2, reason="damaged", lots=[LotInput("B", 2)])
    assert Lot.objects.get(number="B").on_hand == 1
    assert integrity_problems() == []


def test_adjustment_of_a_tracked_product_without_lots_writes_nothing(milk, warehouse):
    before = _counts()
    with pytest.raises(LotRequired):
        stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=5, reason="count")
    with pytest.raises(LotRequired):  # units in must say their expiry (None: does not expire)
        stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=5, reason="count", lots=[LotInput("A", 5)])
    with pytest.raises(LotExpired):
        stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=5, reason="c", lots=[LotInput("A", 5, _in(-1))])
    with pytest.raises(LotRequired):
        stock_counts_apply(counts=[StockCount("MILK", "MAIN", 4)], reason="count")
    assert _counts() == before


def test_removal_needs_free_units_of_the_named_lot(milk, warehouse):
    stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=3, reason="c", lots=[LotInput("A", 3, _in(60))])
    with pytest.raises(InsufficientStock):
        stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=-4, reason="lost", lots=[LotInput("A", 4)])
    assert Lot.objects.get().on_hand == 3


@pytest.fixture
def milk_po(milk, warehouse):
    po = PurchaseOrderFactory(warehouse=warehouse, status=PurchaseOrder.Status.SENT)
    PurchaseOrderLineFactory(purchase_order=po, product=milk, quantity_ordered=20)
    return po


def test_purchase_order_receipt_into_lots(milk_po, milk):
    purchase_order_receive(
        purchase_order=milk_po,
        lines=[ReceiptLineRequest("MILK", 12, lots=[LotInput("L1", 10, _in(40)), LotInput("L2", 2, _in(50))])],
    )
    assert sorted(Lot.objects.values_list("number", "on_hand", "quantity_received")) == [("L1", 10, 10), ("L2", 2, 2)]
    assert StockItem.objects.get(product=milk).on_hand == 12
    assert set(StockMovement.objects.values_list("kind", "lot__number", "reference")) == {
        ("receipt", "L1", milk_po.number),
        ("receipt", "L2", milk_po.number),
    }
    assert integrity_problems() == []


def test_purchase_order_receipt_without_lots_is_refused_and_writes_nothing(milk_po):
    before = _counts()
    with pytest.raises(LotRequired):
        purchase_order_receive(purchase_order=milk_po, lines=[ReceiptLineRequest("MILK", 12)])
    assert _counts() == before
    milk_po.refresh_from_db()
    assert milk_po.status == PurchaseOrder.Status.SENT


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    return response.json()


def test_receive_api_without_lots_is_422_lot_required(staff_client, milk_po):
    url = f"/api/v1/purchase-orders/{milk_po.number}/receive/"
    before = _counts()
    _problem(staff_client.post(url, {"lines": [{"sku": "MILK", "quantity": 5}]}, format="json"), 422, "lot_required")
    no_expiry = {"lines": [{"sku": "MILK", "quantity": 5, "lots": [{"number": "L1", "quantity": 5}]}]}
    _problem(staff_client.post(url, no_expiry, format="json"), 422, "lot_required")
    not_adding_up = {
        "lines": [{"sku": "MILK", "quantity": 5, "lots": [{"number": "L1", "quantity": 4, "expiry_date": None}]}]
    }
    _problem(staff_client.post(url, not_adding_up, format="json"), 422, "invalid_input")
    assert _counts() == before
    good = {
        "lines": [
            {"sku": "MILK", "quantity": 5, "lots": [{"number": "L1", "quantity": 5, "expiry_date": str(_in(60))}]}
        ]
    }
    response = staff_client.post(url, good, format="json")
    assert response.status_code == 200, response.content
    assert Lot.objects.get(number="L1").on_hand == 5


def test_adjustment_api_names_lots(staff_client, milk):
    url = "/api/v1/stock/adjustments/"
    body = {"sku": "MILK", "warehouse": "MAIN", "quantity": 4, "reason": "count"}
    _problem(staff_client.post(url, body, format="json"), 422, "lot_required")
    assert not Lot.objects.exists() and not StockMovement.objects.exists()
    response = staff_client.post(
        url, {**body, "lots": [{"number": "X1", "quantity": 4, "expiry_date": str(_in(90))}]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Lot.objects.get(number="X1").on_hand == 4


def test_untracked_products_take_no_lots(staff_client, make_product):
    make_product(sku="PLAIN")
    body = {"sku": "PLAIN", "warehouse": "MAIN", "quantity": 4, "reason": "count"}
    _problem(
        staff_client.post(
            url := "/api/v1/stock/adjustments/", {**body, "lots": [{"number": "X", "quantity": 4}]}, format="json"
        ),
        422,
        "invalid_input",
    )
    assert staff_client.post(url, body, format="json").status_code == 201
    assert not Lot.objects.exists()


def test_lot_constraints_hold_in_the_database(milk, warehouse):
    from django.db import IntegrityError, transaction

    stock_adjust(sku="MILK", warehouse_code="MAIN", quantity=3, reason="c", lots=[LotInput("A", 3, _in(60))])
    lot = Lot.objects.get()
    for change in ({"allocated": 4}, {"on_hand": -1}, {"quarantined": -1}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Lot.objects.filter(pk=lot.pk).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.create(stock_item=lot.stock_item, product=milk, warehouse=warehouse, number="A")
