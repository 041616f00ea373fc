"""Orders, restocks and cancellations succeed while the broker is unreachable: the state is in the database,
and the periodic sweeps pick the work up when the broker is back."""

import pytest

from config.celery import app
from fulfilment.services import order_cancel
from inventory.models import StockItem
from inventory.services import stock_adjust
from orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_order_with_backorder_succeeds_when_broker_refuses(make_product, place, broker_down):
    product = make_product(stock=1)
    app.control.purge()  # what the setup published
    with broker_down():
        order = place({product.sku: 3})
    assert Order.objects.get(pk=order.pk).status == Order.Status.BACKORDERED
    assert order.backorders.get().quantity_outstanding == 2
    assert app.control.purge() == 0  # nothing reached the broker


def test_restock_and_cancel_succeed_when_broker_refuses(make_product, place, broker_down):
    product = make_product(stock=2)
    first = place({product.sku: 2})
    second = place({product.sku: 2})
    app.control.purge()  # what the setup published
    with broker_down():
        # Both enqueue allocation work after commit; the broker refuses and the request still succeeds.
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=1, reason="found one")
        order_cancel(order=first, reason="changed mind")
    assert StockItem.objects.get(product=product).allocated == 0
    assert second.backorders.get().quantity_outstanding == 2  # waits for the sweep, nothing lost
    assert app.control.purge() == 0
