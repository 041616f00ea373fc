"""Expired and short-dated lots leave sellable stock; a hold (recall) acts the same; their reserved units go back to
the queue in their place, with one notice per order (docs/lots.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backorders import allocation
from backorders.models import Backorder, BackorderEvent
from core.errors import InvalidTransition
from fulfilment.integrity import integrity_problems
from fulfilment.services.lots import lot_hold, lot_release, lots_quarantine_due
from fulfilment.tasks import lots_expiry_sweep
from inventory.lots import LotInput
from inventory.models import Lot, Product, StockItem, StockMovement
from inventory.services import stock_adjust
from notifications.models import Notification
from orders.models import LotAllocation
from tests.inventory.factories import ProductFactory
from tests.orders.factories import CustomerFactory


def _in(days: int):
    return timezone.localdate() + timedelta(days=days)


def _receive(*lots):
    stock_adjust(
        sku="CHEESE",
        warehouse_code="MAIN",
        quantity=sum(q for _, q, _ in lots),
        reason="receipt",
        lots=[LotInput(n, q, None if d is None else _in(d)) for n, q, d in lots],
    )


@pytest.fixture
def cheese(db, warehouse):
    return ProductFactory(sku="CHEESE", tracking=Product.Tracking.LOT, min_shelf_life_days=30)


@pytest.fixture
def served(cheese, place):
    """Order 1 served at placement, order 2 from the queue, both from lot A (35 days left); order 3 still waits."""
    _receive(("A", 3, 35))
    first = place({"CHEESE": 2}, customer=CustomerFactory())
    second = place({"CHEESE": 2}, customer=CustomerFactory())  # 1 from A now, 1 waits
    third = place({"CHEESE": 1}, customer=CustomerFactory())
    return first, second, third


def _notices(order):
    return Notification.objects.filter(order=order, event=Notification.Event.MANUAL_UPDATE).count()


def test_short_dated_lot_is_quarantined_and_its_units_wait_again_in_their_place(cheese, served):
    first, second, third = served
    assert lots_quarantine_due(today=_in(4)) == 0  # 35 − 4 = 31 days left: still good
    assert lots_quarantine_due(today=_in(6)) == 1  # 29 days left: under the 30-day minimum

    lot = Lot.objects.get(number="A")
    assert (lot.status, lot.on_hand, lot.allocated, lot.quarantined) == ("quarantined", 0, 0, 3)
    assert "minimum shelf life" in lot.hold_reason
    assert StockItem.objects.get(product=cheese).on_hand == 0
    assert StockMovement.objects.filter(kind="quarantine", lot=lot, quantity=-3).exists()
    assert not LotAllocation.objects.exists()

    b1 = Backorder.objects.get(order=first)  # served at placement: now waits on a new backorder
    assert (b1.quantity, b1.quantity_outstanding, b1.reason, b1.placed_at) == (2, 2, "lot_expired", first.placed_at)
    b2 = Backorder.objects.get(order=second)
    assert (b2.quantity, b2.quantity_allocated, b2.status, b2.reason) == (2, 0, "open", "lot_expired")
    assert first.lines.get().quantity_backordered == 2
    assert [_notices(o) for o in (first, second, third)] == [1, 1, 0]
    assert BackorderEvent.objects.filter(kind="deallocated", data__reason="lot_expired").count() == 2
    assert integrity_problems() == []

    assert lots_quarantine_due(today=_in(6)) == 0  # idempotent

    _receive(("B", 3, 90))  # fresh stock: the queue order is what it was (first, second, third)
    allocation.backorders_allocate(product_id=cheese.pk)
    assert [Backorder.objects.get(order=o).quantity_allocated for o in (first, second, third)] == [2, 1, 0]
    assert integrity_problems() == []


def test_expired_lot_is_quarantined_by_the_daily_task(cheese, place):
    _receive(("OLD", 2, 1), ("GOOD", 2, 60))
    Lot.objects.filter(number="OLD").update(expiry_date=_in(-1))  # received in time, expired since
    assert lots_expiry_sweep() == 1
    old = Lot.objects.get(number="OLD")
    assert (old.status, old.quarantined) == ("quarantined", 2)
    assert "expired" in old.hold_reason
    assert integrity_problems() == []


def test_hold_acts_like_expiry_and_release_brings_the_units_back(cheese, served, django_capture_on_commit_callbacks):
    first, second, _ = served
    lot = Lot.objects.get(number="A")
    lot_hold(lot=lot, reason="Supplier recall R-17")
    lot.refresh_from_db()
    assert (lot.status, lot.hold_reason, lot.on_hand, lot.quarantined) == ("on_hold", "Supplier recall R-17", 0, 3)
    assert Backorder.objects.get(order=first).reason == "lot_expired"
    assert _notices(first) == _notices(second) == 1
    assert integrity_problems() == []
    with pytest.raises(InvalidTransition):
        lot_hold(lot=lot, reason="again")

    with django_capture_on_commit_callbacks(execute=True):
        lot_release(lot=lot, reason="Recall withdrawn")
    lot.refresh_from_db()
    assert (lot.status, lot.on_hand, lot.quarantined) == ("active", 3, 0)
    # The released units went to the queue after commit, in its order.
    assert [Backorder.objects.get(order=o).quantity_allocated for o in (first, second)] == [2, 1]
    assert integrity_problems() == []
    with pytest.raises(InvalidTransition):
        lot_release(lot=lot)


def test_release_of_a_lot_too_short_dated_keeps_it_out(cheese):
    _receive(("A", 3, 35))
    lot = Lot.objects.get()
    lot_hold(lot=lot, reason="check")
    Lot.objects.filter(pk=lot.pk).update(expiry_date=_in(10))
    lot_release(lot=lot, reason="ok")
    lot.refresh_from_db()
    assert (lot.status, lot.on_hand, lot.quarantined) == ("quarantined", 0, 3)
    assert integrity_problems() == []
