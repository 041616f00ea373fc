"""An order placed while the broker is unreachable still succeeds: the state is in the database."""

import pytest

from config.celery import app
from orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _reset_connections():
    # Forget the cached pools so the next publish connects to the current broker_url.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    previous = (app.conf.broker_url, app.conf.broker_write_url, app.conf.task_always_eager)
    app.conf.task_always_eager = False
    # Nothing listens on port 1: every publish is refused, as when Redis is down.
    app.conf.broker_url = app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    _reset_connections()
    yield
    app.conf.broker_url, app.conf.broker_write_url, app.conf.task_always_eager = previous
    _reset_connections()


def test_order_with_backorder_succeeds_when_broker_refuses(make_product, place, broker_down):
    product = make_product(stock=1)
    order = place({product.sku: 3})  # enqueues allocation work after commit: the broker refuses it
    assert Order.objects.get(pk=order.pk).status == Order.Status.BACKORDERED
    assert order.backorders.get().quantity_outstanding == 2


def test_restock_and_cancel_succeed_when_broker_refuses(make_product, place, broker_down):
    from inventory.models import StockItem
    from inventory.services import stock_adjust
    from orders.services import order_cancel

    product = make_product(stock=2)
    first = place({product.sku: 2})
    second = place({product.sku: 2})
    # Both enqueue allocation work after commit; the broker refuses and the request still succeeds.
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=1, reason="found one")
    order_cancel(order=first, reason="changed mind")
    assert StockItem.objects.get(product=product).allocated == 0
    assert second.backorders.get().quantity_outstanding == 2  # waits for the sweep, nothing lost
