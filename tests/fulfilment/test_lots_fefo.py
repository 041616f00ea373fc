"""FEFO allocation of lot-tracked products (docs/lots.md): at placement, by the allocation engine (both engines), on
shipping, cancelling and reallocating; untracked products are untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders import allocation
from backorders.models import Backorder
from fulfilment.integrity import integrity_problems
from fulfilment.services import CancelRequest, order_cancel, order_ship
from inventory.lots import LotInput
from inventory.models import Lot, Product, StockItem, StockMovement
from inventory.services import stock_adjust
from orders.models import Allocation, LotAllocation, ShipmentLine
from tests.inventory.factories import ProductFactory


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


def _receive(sku: str, *lots: tuple[str, int, int | None], warehouse: str = "MAIN") -> None:
    """Lots (number, units, expires in days or None) into stock; the engine is run by the test itself."""
    stock_adjust(
        sku=sku,
        warehouse_code=warehouse,
        quantity=sum(q for _, q, _ in lots),
        reason="receipt",
        lots=[LotInput(n, q, None if d is None else _in(d)) for n, q, d in lots],
    )


@pytest.fixture
def tracked(db, warehouse):
    return ProductFactory(sku="YOGURT", tracking=Product.Tracking.LOT, min_shelf_life_days=30)


def _lot_allocations(order):
    return sorted(
        LotAllocation.objects.filter(order_line__order=order).values_list("lot__number", "quantity"),
    )


def test_issue_example_short_dated_lot_is_passed_over(tracked, place):
    """Lot A 5 units expiring in 10 days, lot B 5 in 40 days, minimum 30 days: an order for 6 gets 5 from B and 1
    backordered."""
    _receive("YOGURT", ("A", 5, 10), ("B", 5, 40))
    order = place({"YOGURT": 6})
    line = order.lines.get()
    assert (line.quantity_allocated, line.quantity_backordered) == (5, 1)
    assert _lot_allocations(order) == [("B", 5)]
    assert Backorder.objects.get(order=order).quantity_outstanding == 1
    lots = {lot.number: lot for lot in Lot.objects.all()}
    assert (lots["A"].allocated, lots["B"].allocated) == (0, 5)
    assert StockItem.objects.get(product=tracked).allocated == 5
    assert integrity_problems() == []


def test_short_dated_free_units_are_not_promised_as_stock_today(tracked, place):
    """Lot A's 5 free units cannot meet the 30-day minimum: the 1 unit backordered is not dated today from them
    (before the daily sweep quarantines the lot)."""
    from backorders.eta import eta_recompute_product

    _receive("YOGURT", ("A", 5, 10), ("B", 5, 40))
    order = place({"YOGURT": 6})
    eta_recompute_product(product_id=tracked.pk)
    backorder = Backorder.objects.get(order=order)
    assert backorder.eta != timezone.localdate()
    assert backorder.eta_basis == Backorder.EtaBasis.NONE  # no supplier, no purchase order: no date
    _receive("YOGURT", ("C", 1, 60))  # a unit that may ship: supply today again
    eta_recompute_product(product_id=tracked.pk)
    backorder.refresh_from_db()
    assert (backorder.eta, backorder.eta_basis) == (timezone.localdate(), Backorder.EtaBasis.PURCHASE_ORDER)


def test_earliest_expiry_first_and_lots_without_expiry_last(tracked, place):
    _receive("YOGURT", ("LATE", 4, 90), ("NEVER", 4, None), ("SOON", 3, 35))
    first = place({"YOGURT": 5})
    assert _lot_allocations(first) == [("LATE", 2), ("SOON", 3)]
    second = place({"YOGURT": 5})
    assert _lot_allocations(second) == [("LATE", 2), ("NEVER", 3)]
    assert integrity_problems() == []


def test_quarantined_and_held_lots_are_not_allocated(tracked, place):
    _receive("YOGURT", ("OK", 2, 60), ("HELD", 5, 50))
    Lot.objects.filter(number="HELD").update(status=Lot.Status.ON_HOLD)
    order = place({"YOGURT": 4})
    assert _lot_allocations(order) == [("OK", 2)]
    assert order.lines.get().quantity_backordered == 2


ENGINES = ["auto", "python"]


def _run(engine, product):
    if engine == "python":
        return allocation.transaction.atomic()(allocation._allocate_product_python)(product_id=product.pk)
    return allocation.backorders_allocate(product_id=product.pk)


@pytest.mark.parametrize("engine", ENGINES)
def test_restock_goes_to_the_queue_fefo_with_lot_allocations(engine, tracked, place):
    first = place({"YOGURT": 3})
    second = place({"YOGURT": 4})
    _receive("YOGURT", ("R2", 4, 80), ("R1", 2, 45), ("SHORT", 9, 20))  # SHORT: below the 30-day minimum
    assert _run(engine, tracked) == 6
    assert _lot_allocations(first) == [("R1", 2), ("R2", 1)]
    assert _lot_allocations(second) == [("R2", 3)]
    assert [Backorder.objects.get(order=o).quantity_outstanding for o in (first, second)] == [0, 1]
    assert Lot.objects.get(number="SHORT").allocated == 0
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_restock_across_two_warehouses_keeps_allocations_per_stock_item(engine, tracked, place):
    from inventory.services import warehouse_create

    warehouse_create(code="EAST", name="East")
    order = place({"YOGURT": 6})
    _receive("YOGURT", ("M1", 2, 60), ("M2", 2, 50))
    _receive("YOGURT", ("E1", 3, 40), warehouse="EAST")
    assert _run(engine, tracked) == 6
    assert _lot_allocations(order) == [("E1", 2), ("M1", 2), ("M2", 2)]
    assert sorted(Allocation.objects.filter(order_line__order=order).values_list("quantity", flat=True)) == [2, 4]
    assert integrity_problems() == []


def test_shipment_records_lot_numbers_and_moves_lot_stock(tracked, place):
    _receive("YOGURT", ("A", 2, 45), ("B", 5, 60))
    order = place({"YOGURT": 4})
    shipment = order_ship(order=order)
    assert sorted(ShipmentLine.objects.filter(shipment=shipment).values_list("lot__number", "quantity")) == [
        ("A", 2),
        ("B", 2),
    ]
    lots = {lot.number: lot for lot in Lot.objects.all()}
    assert [(lots[n].on_hand, lots[n].allocated) for n in "AB"] == [(0, 0), (3, 0)]
    assert set(StockMovement.objects.filter(kind="shipment").values_list("lot__number", "quantity")) == {
        ("A", -2),
        ("B", -2),
    }
    assert not LotAllocation.objects.exists()
    assert integrity_problems() == []


def test_cancel_returns_the_last_expiring_lot_units_first(tracked, place):
    _receive("YOGURT", ("A", 2, 45), ("B", 5, 60))
    order = place({"YOGURT": 5})
    order_cancel(order=order, lines=[CancelRequest(sku="YOGURT", quantity=2)])
    assert _lot_allocations(order) == [("A", 2), ("B", 1)]
    assert Lot.objects.get(number="B").allocated == 1
    assert integrity_problems() == []


def test_reallocation_moves_the_lot_units(tracked, place):
    from backorders.services import backorder_reallocate
    from tests.orders.factories import CustomerFactory

    low = place({"YOGURT": 3}, priority="low")
    _receive("YOGURT", ("A", 2, 45), ("B", 1, 70))
    allocation.backorders_allocate(product_id=tracked.pk)
    assert _lot_allocations(low) == [("A", 2), ("B", 1)]
    high = place({"YOGURT": 2}, customer=CustomerFactory(), priority="high")
    assert backorder_reallocate(backorder=Backorder.objects.get(order=high)) == 2
    assert _lot_allocations(high) == [("A", 1), ("B", 1)]
    assert _lot_allocations(low) == [("A", 1)]
    assert [lot.allocated for lot in Lot.objects.order_by("number")] == [2, 1]
    assert integrity_problems() == []


def test_untracked_products_get_no_lot_rows(make_product, place):
    product = make_product(stock=5)
    order = place({product.sku: 3})
    assert order.lines.get().quantity_allocated == 3
    assert not LotAllocation.objects.exists() and not Lot.objects.exists()
