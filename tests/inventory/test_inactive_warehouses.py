"""Stock in an inactive warehouse is neither available nor ETA supply (inventory.routing).

It stays on hand (physically there), but placement, the allocation engine (SQL and its Python twin), the
availability reads (products, shortages, planning, alternatives) and the ETA's supply all leave it out.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from backorders import allocation
from backorders.models import Backorder
from backorders.projection import supply_read
from backorders.selectors import products_needing_allocation
from backorders.substitutes import _free_now
from fulfilment.integrity import integrity_problems
from inventory.models import StockItem, Warehouse
from inventory.selectors import product_get
from inventory.services import stock_adjust
from suppliers.selectors import shortages

pytestmark = pytest.mark.django_db


@pytest.fixture
def east(db):
    return Warehouse.objects.create(code="EAST", name="East", is_active=False)


def _item(product, code):
    return StockItem.objects.get(product=product, warehouse__code=code)


def test_placement_takes_nothing_from_an_inactive_warehouse(make_product, place, east):
    product = make_product(stock=3)
    stock_adjust(sku=product.sku, warehouse_code="EAST", quantity=10, reason="count")
    order = place({product.sku: 5})
    line = order.lines.get()
    assert (line.quantity_allocated, line.quantity_backordered) == (3, 2)
    assert _item(product, "EAST").allocated == 0
    assert _item(product, "MAIN").allocated == 3
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_the_allocation_engine_ignores_inactive_stock_until_the_warehouse_is_active(engine, make_product, place, east):
    product = make_product()
    order = place({product.sku: 4})
    stock_adjust(sku=product.sku, warehouse_code="EAST", quantity=10, reason="count")
    assert products_needing_allocation() == []

    def run():
        if engine == "python":
            return transaction.atomic()(allocation._allocate_product_python)(product_id=product.pk)
        return allocation.backorders_allocate(product_id=product.pk)

    assert run() == 0
    assert Backorder.objects.get(order=order).quantity_allocated == 0
    Warehouse.objects.filter(pk=east.pk).update(is_active=True)
    assert products_needing_allocation() == [product.pk]
    assert run() == 4
    assert _item(product, "EAST").allocated == 4
    assert integrity_problems() == []


def test_availability_reads_leave_inactive_stock_out(make_product, place, east):
    product = make_product(stock=2)
    stock_adjust(sku=product.sku, warehouse_code="EAST", quantity=10, reason="count")
    read = product_get(sku=product.sku)
    assert (read.available, read.on_hand) == (2, 12)  # on hand is physical: every warehouse
    assert _free_now([product.pk]) == {product.pk: 2}  # what alternatives offer
    place({product.sku: 5})  # 2 allocated, 3 waiting
    [row] = shortages()
    assert (row["demand"], row["on_hand"], row["available"]) == (3, 12, 0)


def test_inactive_stock_is_not_eta_supply(make_product, east):
    from django.utils import timezone

    product = make_product(stock=2)
    stock_adjust(sku=product.sku, warehouse_code="EAST", quantity=10, reason="count")
    assert supply_read(product.pk, timezone.localdate()).free == 2
    Warehouse.objects.filter(pk=east.pk).update(is_active=True)
    assert supply_read(product.pk, timezone.localdate()).free == 12


def test_reactivating_a_warehouse_offers_its_stock_to_the_queue_and_moves_etas(
    make_product, place, east, django_capture_on_commit_callbacks
):
    from backorders.models import WorkRequest
    from inventory.services import warehouse_update

    product = make_product()
    order = place({product.sku: 3})
    stock_adjust(sku=product.sku, warehouse_code="EAST", quantity=5, reason="count")
    WorkRequest.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        warehouse_update(warehouse=east, name="East", is_active=True, priority=5)
    assert Backorder.objects.get(order=order).quantity_allocated == 3  # the allocation task ran (eager)
    assert Warehouse.objects.get(pk=east.pk).priority == 5
    assert integrity_problems() == []


def test_warehouse_update_refuses_a_negative_priority(east):
    from core.errors import InvalidInput
    from inventory.services import warehouse_update

    with pytest.raises(InvalidInput):
        warehouse_update(warehouse=east, name="East", is_active=True, priority=-1)
    assert Warehouse.objects.get(pk=east.pk).is_active is False
