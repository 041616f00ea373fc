"""Reallocation: reserved, unshipped units move from lower-priority backorders to a more urgent one."""

from __future__ import annotations

import pytest

from backorders.allocation import backorders_allocate
from backorders.exceptions import BackorderClosed, NothingToReallocate
from backorders.models import Backorder
from backorders.services import backorder_reallocate
from fulfilment.integrity import integrity_problems
from inventory.services import stock_adjust
from orders.models import Allocation


@pytest.fixture
def queue(make_product, place, warehouse):
    """Three normal orders got all 6 units; then a critical hospital order waits for 4."""
    product = make_product()
    early = [place({product.sku: 2}) for _ in range(3)]
    stock_adjust(sku=product.sku, warehouse_code=warehouse.code, quantity=6, reason="found")
    backorders_allocate(product_id=product.pk)
    hospital = place({product.sku: 4}, priority="critical")
    return product, early, hospital


def test_reallocation_takes_from_the_back_of_the_queue(queue, staff_user):
    product, early, hospital = queue
    target = Backorder.objects.get(order=hospital)
    moved = backorder_reallocate(backorder=target, reason="hospital ICU", user=staff_user)
    assert moved == 4
    target.refresh_from_db()
    assert (target.status, target.quantity_allocated) == ("allocated", 4)
    got = [Backorder.objects.get(order=o).quantity_allocated for o in early]
    assert got == [2, 0, 0]  # the newest lost first
    donors = [Backorder.objects.get(order=o) for o in early[1:]]
    assert [d.status for d in donors] == ["open", "open"]
    for donor in donors:
        event = donor.events.get(kind="deallocated")
        assert (event.quantity, event.data["reallocated_to"], event.actor) == (2, target.pk, "staff")
    event = target.events.get(kind="allocated")
    assert event.data["reallocated_from"] == {str(donors[1].pk): 2, str(donors[0].pk): 2}
    assert Allocation.objects.get(order_line__order=hospital).quantity == 4
    hospital.refresh_from_db()
    assert hospital.status == "open"
    assert {o.status for o in early[1:] if not o.refresh_from_db()} == {"backordered"}
    assert integrity_problems() == []


def test_reallocation_never_takes_from_higher_priority(queue, place, staff_user):
    product, early, hospital = queue
    low = place({product.sku: 1}, priority="low")
    with pytest.raises(NothingToReallocate):
        backorder_reallocate(backorder=Backorder.objects.get(order=low), user=staff_user)
    assert [Backorder.objects.get(order=o).quantity_allocated for o in early] == [2, 2, 2]
    assert integrity_problems() == []


def test_partial_quantity_and_closed_backorders(queue, staff_user):
    product, early, hospital = queue
    target = Backorder.objects.get(order=hospital)
    assert backorder_reallocate(backorder=target, quantity=1, user=staff_user) == 1
    target.refresh_from_db()
    assert (target.status, target.quantity_outstanding) == ("partially_allocated", 3)
    assert Backorder.objects.get(order=early[2]).status == "partially_allocated"
    with pytest.raises(BackorderClosed):
        backorder_reallocate(backorder=Backorder.objects.get(order=early[0]), user=staff_user)
    assert integrity_problems() == []
