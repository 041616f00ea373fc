"""Order intake under real concurrency on PostgreSQL: never oversell, never deadlock."""

import random
import threading

import pytest
from django.db import connection, connections
from django.db.models import Sum

from backorders.models import Backorder
from inventory.models import StockItem
from inventory.selectors import integrity_problems
from orders.models import Order, OrderLine
from orders.services import CustomerData, LineRequest, order_cancel, order_place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def worker(index):
        try:
            barrier.wait()
            target(index)
        except Exception as exc:  # surfaced below: any error fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return errors


def test_twenty_four_threads_on_one_sku_never_oversell(make_product):
    stock = 10
    product = make_product(stock=stock)
    demand = {i: 1 + i % 2 for i in range(24)}  # 36 units wanted, 10 in stock

    def place(i):
        order_place(
            customer=CustomerData(f"c{i}", f"c{i}@example.com", f"Customer {i}"),
            lines=[LineRequest(product.sku, demand[i])],
        )

    assert run_threads(24, place) == []
    item = StockItem.objects.get(product=product)
    totals = OrderLine.objects.filter(product=product).aggregate(
        allocated=Sum("quantity_allocated"), backordered=Sum("quantity_backordered")
    )
    assert Order.objects.count() == 24
    assert item.on_hand == stock
    assert item.allocated == stock == totals["allocated"]
    assert totals["backordered"] == sum(demand.values()) - stock
    assert Backorder.objects.aggregate(units=Sum("quantity"))["units"] == sum(demand.values()) - stock
    assert integrity_problems() == []


def test_multi_sku_orders_in_opposite_orders_and_cancels_do_not_deadlock(make_product):
    a = make_product(stock=15)
    b = make_product(stock=15)
    placed = []
    lock = threading.Lock()

    def work(i):
        rng = random.Random(i)
        skus = [a.sku, b.sku] if i % 2 else [b.sku, a.sku]
        result = order_place(
            customer=CustomerData(f"m{i}", f"m{i}@example.com", f"M {i}"),
            lines=[LineRequest(sku, rng.randint(1, 3)) for sku in skus],
        )
        with lock:
            placed.append(result.order.pk)
            victim = rng.choice(placed)
        if i % 3 == 0:
            try:
                order_cancel(order=Order.objects.get(pk=victim), reason="load test")
            except Exception as exc:
                if getattr(exc, "code", None) != "order_closed":
                    raise

    assert run_threads(20, work) == []
    for product in (a, b):
        item = StockItem.objects.get(product=product)
        assert 0 <= item.allocated <= item.on_hand == 15
    assert integrity_problems() == []
    assert connection.vendor == "postgresql"


def test_order_cancel_is_not_blocked_by_another_transactions_reference_to_the_order(
    make_product, place, held_elsewhere, lock_timeout
):
    """Another transaction inserting a row that references the order (an allocation run's event, a
    notification) holds FOR KEY SHARE on it until commit; the order lock (FOR NO KEY UPDATE) does not wait
    for it, so such inserts never join the lock graph outside the fixed lock order."""
    product = make_product(stock=1)
    order = place({product.sku: 3})

    def reference_the_order():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Order._meta.db_table} WHERE id = %s FOR KEY SHARE", [order.pk])

    with held_elsewhere(reference_the_order), lock_timeout("2s"):
        order_cancel(order=order, reason="customer changed their mind")
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Backorder.objects.get(order=order).status == Backorder.Status.CANCELLED
    assert integrity_problems() == []
