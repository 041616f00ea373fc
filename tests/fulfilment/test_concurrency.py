"""Order intake under real concurrency on PostgreSQL: never oversell, never deadlock."""

import random
import threading

import pytest
from django.db import connection, connections
from django.db.models import Sum

from backorders.models import Backorder
from fulfilment.integrity import integrity_problems
from fulfilment.services import LineRequest, order_cancel, order_place, order_ship
from inventory.models import StockItem
from orders.models import Order, OrderLine, Shipment
from orders.services import CustomerData
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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


def _wait_until_someone_waits_for_a_lock(timeout: float = 20.0) -> None:
    """Poll PostgreSQL until another session of this database is blocked on a lock (bounded, not a timing check)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("nobody ever waited for the lock")


def _ship_while_another_holds_the_stock(order, *, stock_of: list[int], then) -> Shipment:
    """Another transaction locks the stock of ``stock_of`` (as services do, first); shipping ``order`` starts and waits
    for that lock (having read the order's products); then the other runs ``then()`` and commits, and the shipping
    goes on. Returns the shipment; any error of either side fails the test."""
    from django.db import transaction

    from inventory.locks import stock_items_lock_for_products

    stock_locked, go = threading.Event(), threading.Event()
    errors, shipped = [], []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def hold_then_change():
        with transaction.atomic():
            stock_items_lock_for_products(stock_of)
            stock_locked.set()
            go.wait(20)
            then()

    holder = in_thread(hold_then_change)
    assert stock_locked.wait(20)
    shipper = in_thread(lambda: shipped.append(order_ship(order=order)))
    _wait_until_someone_waits_for_a_lock()
    go.set()
    holder.join(30)
    shipper.join(30)
    assert errors == []
    [shipment] = shipped
    return shipment


def test_shipping_locks_a_stock_item_created_while_it_waited_for_stock(make_product, place):
    """Found by the random parallel mix (tests/fulfilment/test_concurrent_mix.py): shipping's stock lock waited on the
    product's only stock item; meanwhile another transaction holding that lock gave a second warehouse its first units
    of the product and allocated them to this order. The locking statement returned the rows of its snapshot, taken
    before it waited, without the new stock item: KeyError on ship. The locks are now taken again when the product has
    stock items the lock did not return."""
    from backorders.allocation import backorders_allocate
    from inventory.services import stock_adjust, warehouse_create

    warehouse_create(code="EAST", name="East")
    lamp = make_product(stock=2)
    order = place({lamp.sku: 3})  # 2 reserved in MAIN, 1 waiting

    def first_units_elsewhere():
        stock_adjust(sku=lamp.sku, warehouse_code="EAST", quantity=1, reason="first units in East")
        assert backorders_allocate(product_id=lamp.pk) == 1  # to the order's waiting unit

    # Shipping reads the order's products ({lamp}), then waits for lamp's stock: its snapshot has no East item.
    shipment = _ship_while_another_holds_the_stock(order, stock_of=[lamp.pk], then=first_units_elsewhere)
    got = sorted(shipment.lines.values_list("stock_item__warehouse__code", "quantity"))
    assert got == [("EAST", 1), ("MAIN", 2)]
    assert integrity_problems() == []


def test_shipping_locks_a_line_added_while_it_waited_for_stock(make_product, place):
    """Found by the random parallel mix (tests/test_concurrent_mix.py): shipping read the order's products, waited
    for their stock, and meanwhile a substitute was accepted on the order, adding a line on a product whose stock
    it had not locked (KeyError on ship). _lock_order now takes the locks again with the new line's product."""
    from backorders.substitutes import backorder_accept_substitute

    lamp = make_product(stock=2)
    substitute = make_product(stock=5)
    lamp.substitutes.add(substitute)
    order = place({lamp.sku: 3})  # 2 reserved, 1 waiting
    backorder = Backorder.objects.get(order=order)

    # Shipping reads the order's products ({lamp}), then waits for lamp's stock.
    shipment = _ship_while_another_holds_the_stock(
        order,
        stock_of=[lamp.pk, substitute.pk],
        then=lambda: backorder_accept_substitute(backorder=backorder, sku=substitute.sku),
    )
    got = dict(shipment.lines.values_list("order_line__product__sku", "quantity"))
    assert got == {lamp.sku: 2, substitute.sku: 1}
    assert integrity_problems() == []
