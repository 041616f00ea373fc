"""Accepting a substitute: partial allocations, concurrency (PostgreSQL, real threads), discontinued products."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from backorders.allocation import backorders_allocate
from backorders.models import Backorder
from backorders.substitutes import backorder_accept_substitute, backorder_alternatives
from fulfilment.integrity import integrity_problems
from inventory.exceptions import InsufficientStock
from inventory.models import Product, StockItem
from inventory.services import product_update, stock_adjust
from notifications.models import Notification
from orders.models import OrderLine
from tests.notifications.factories import rendered, substitute_link


@pytest.mark.django_db
def test_partially_allocated_backorder_keeps_its_reserved_units(make_product, place, customer):
    blue = make_product(stock=0)
    red = make_product(stock=10)
    substitute_link(blue, red)
    order = place({blue.sku: 5}, customer=customer)
    stock_adjust(sku=blue.sku, warehouse_code="MAIN", quantity=2, reason="receipt")
    backorders_allocate(product_id=blue.pk)
    backorder = Backorder.objects.get()
    assert (backorder.status, backorder.quantity_outstanding) == ("partially_allocated", 3)

    line = backorder_accept_substitute(backorder=backorder, sku=red.sku)
    backorder.refresh_from_db()
    assert (backorder.status, backorder.quantity_allocated, backorder.quantity_cancelled) == ("allocated", 2, 3)
    assert (line.quantity, line.quantity_allocated) == (3, 3)
    blue_line = OrderLine.objects.get(order=order, product=blue)
    assert (blue_line.quantity_allocated, blue_line.quantity_backordered, blue_line.quantity_cancelled) == (2, 0, 3)
    assert backorder_alternatives(backorder) == []  # nothing waits any more
    assert integrity_problems() == []


@pytest.mark.django_db
def test_discontinued_product_cancels_with_the_reason_and_payment_text(make_product, place, customer):
    product = make_product(stock=0, name="Old lamp")
    place({product.sku: 1}, customer=customer)
    product_update(product=product, status=Product.Status.DISCONTINUED)
    message = rendered(Notification.objects.get(event="cancelled"))
    assert "(Product discontinued)" in message.body_text
    assert "You will not be charged" in message.body_text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_customers_racing_for_the_last_substitute_units_never_oversell(make_product, place):
    blue = make_product(stock=0)
    red = make_product(stock=3)
    substitute_link(blue, red)
    place({blue.sku: 2})
    place({blue.sku: 2})
    backorders = list(Backorder.objects.order_by("pk"))
    barrier = threading.Barrier(len(backorders))
    outcomes: list[str] = []

    def switch(backorder):
        try:
            barrier.wait(10)
            backorder_accept_substitute(backorder=backorder, sku=red.sku)
            outcomes.append("switched")
        except InsufficientStock:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=switch, args=(b,)) for b in backorders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["refused", "switched"]
    item = StockItem.objects.get(product=red)
    assert (item.on_hand, item.allocated) == (3, 2)
    assert sorted(Backorder.objects.values_list("status", flat=True)) == ["cancelled", "open"]
    assert integrity_problems() == []


@pytest.mark.django_db
def test_cancelling_an_order_whose_backorder_was_ready_tells_the_customer(make_product, place, customer):
    from fulfilment.services import order_cancel

    product = make_product(stock=0, name="Rug")
    order = place({product.sku: 2}, customer=customer)
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=2, reason="receipt")
    backorders_allocate(product_id=product.pk)
    assert Backorder.objects.get().status == "allocated"
    order_cancel(order=order, reason="no longer needed")
    message = rendered(Notification.objects.get(event="cancelled"))
    assert "- 2 x Rug" in message.body_text and "You will not be charged" in message.body_text


@pytest.mark.django_db
def test_switching_to_a_substitute_keeps_both_products_etas_current(
    make_product, place, customer, django_capture_on_commit_callbacks
):
    """The backordered product's queue shrinks when its first backorder switches: the one behind it now gets the
    incoming purchase order's date. Found by the life-cycle state machine (a fresh recompute moved a date)."""
    from datetime import timedelta

    from django.utils import timezone

    from backorders.eta import eta_recompute_product
    from suppliers.services import PurchaseOrderLineRequest, purchase_order_create, supplier_create
    from tests.orders.factories import CustomerFactory

    blue = make_product(stock=0)
    red = make_product(stock=5)
    substitute_link(blue, red)
    supplier_create(code="ACME", name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        purchase_order_create(
            supplier_code="ACME",
            warehouse_code="MAIN",
            expected_date=timezone.localdate() + timedelta(days=10),
            lines=[PurchaseOrderLineRequest(sku=blue.sku, quantity=2)],
            send=True,
        )
    with django_capture_on_commit_callbacks(execute=True):
        place({blue.sku: 2}, customer=customer)  # covered by the purchase order
    with django_capture_on_commit_callbacks(execute=True):
        place({blue.sku: 1}, customer=CustomerFactory())  # behind it: no dated supply left
    first, second = Backorder.objects.filter(product=blue).order_by("pk")
    assert second.eta is None
    with django_capture_on_commit_callbacks(execute=True):
        backorder_accept_substitute(backorder=first, sku=red.sku)
    second.refresh_from_db()
    assert second.eta == timezone.localdate() + timedelta(days=10)
    assert eta_recompute_product(product_id=blue.pk) == 0
    assert eta_recompute_product(product_id=red.pk) == 0
