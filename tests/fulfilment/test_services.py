import pytest

from backorders.allocation import backorders_allocate
from backorders.models import Backorder
from core.errors import InvalidInput
from fulfilment.integrity import integrity_problems
from fulfilment.services import CancelRequest, LineRequest, order_cancel, order_place, order_ship
from inventory.exceptions import NotBackorderable, UnknownSku
from inventory.models import StockItem
from orders.exceptions import DuplicateSku, IdempotencyKeyReused, NothingToShip, OrderClosed, OrderNotReady
from orders.models import Order
from orders.services import CustomerData

pytestmark = pytest.mark.django_db


def stock_of(product):
    return StockItem.objects.get(product=product)


def test_in_stock_order_is_allocated_and_open(make_product, place):
    product = make_product(stock=10)
    order = place({product.sku: 4})
    line = order.lines.get()
    assert order.status == Order.Status.OPEN
    assert (line.quantity_allocated, line.quantity_backordered) == (4, 0)
    assert stock_of(product).allocated == 4
    assert not Backorder.objects.exists()
    assert integrity_problems() == []


def test_partial_policy_backorders_the_shortfall(make_product, place):
    product = make_product(stock=3)
    order = place({product.sku: 5}, ship_policy="partial")
    line = order.lines.get()
    backorder = Backorder.objects.get()
    assert order.status == Order.Status.BACKORDERED
    assert (line.quantity_allocated, line.quantity_backordered) == (3, 2)
    assert (backorder.quantity, backorder.quantity_outstanding, backorder.status) == (2, 2, "open")
    assert backorder.events.get().kind == "created"
    shipment = order_ship(order=order)
    assert sum(sl.quantity for sl in shipment.lines.all()) == 3
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_SHIPPED
    assert stock_of(product).on_hand == 0
    assert integrity_problems() == []


def test_complete_policy_reserves_but_does_not_ship_until_complete(make_product, place):
    product = make_product(stock=3)
    order = place({product.sku: 5}, ship_policy="complete")
    assert order.lines.get().quantity_allocated == 3
    with pytest.raises(OrderNotReady):
        order_ship(order=order)
    assert stock_of(product).on_hand == 3


def test_not_backorderable_product_is_refused_and_nothing_written(make_product, place):
    ok = make_product(stock=10)
    gone = make_product(stock=1, backorderable=False)
    with pytest.raises(NotBackorderable) as exc:
        place({ok.sku: 1, gone.sku: 2})
    assert exc.value.code == "not_backorderable"
    assert Order.objects.count() == 0
    assert stock_of(ok).allocated == 0


def test_discontinued_product_sells_remaining_stock_but_never_backorders(make_product, place):
    product = make_product(stock=2, status="discontinued")
    assert place({product.sku: 2}).status == Order.Status.OPEN
    with pytest.raises(NotBackorderable):
        place({product.sku: 1})


def test_bad_lines_are_refused(make_product, place):
    product = make_product(stock=1)
    with pytest.raises(UnknownSku):
        place({"NOPE": 1})
    with pytest.raises(InvalidInput):
        place({product.sku: 0})
    with pytest.raises(InvalidInput):
        place({product.sku: 10**9})
    with pytest.raises(DuplicateSku):
        order_place(
            customer=CustomerData("c", "c@example.com", "C"),
            lines=[LineRequest(product.sku, 1), LineRequest(product.sku, 1)],
        )
    assert Order.objects.count() == 0


def test_idempotency_key_replays_same_order_and_refuses_other_body(make_product):
    product = make_product(stock=5)
    customer = CustomerData("c", "c@example.com", "C")
    first = order_place(customer=customer, lines=[LineRequest(product.sku, 2)], idempotency_key="k1")
    again = order_place(customer=customer, lines=[LineRequest(product.sku, 2)], idempotency_key="k1")
    assert first.created and not again.created
    assert again.order.pk == first.order.pk
    with pytest.raises(IdempotencyKeyReused):
        order_place(customer=customer, lines=[LineRequest(product.sku, 3)], idempotency_key="k1")
    assert Order.objects.count() == 1
    assert stock_of(product).allocated == 2


def test_queue_is_served_before_a_newcomer(make_product, place):
    product = make_product(stock=0)
    waiting = place({product.sku: 3})
    # Stock arrives, but the allocation run has not happened yet: a new order must not jump the queue.
    from inventory.services import stock_adjust

    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=3, reason="found")
    newcomer = place({product.sku: 2})
    assert newcomer.lines.get().quantity_allocated == 0
    backorders_allocate(product_id=product.pk)
    waiting.refresh_from_db()
    assert waiting.status == Order.Status.OPEN
    assert waiting.lines.get().quantity_allocated == 3
    assert integrity_problems() == []


def test_cancel_releases_stock_to_the_queue(make_product, place):
    product = make_product(stock=4)
    first = place({product.sku: 4})
    second = place({product.sku: 3})
    order_cancel(order=first, reason="customer changed mind")
    first.refresh_from_db()
    assert first.status == Order.Status.CANCELLED
    assert stock_of(product).allocated == 0
    backorders_allocate(product_id=product.pk)
    second.refresh_from_db()
    backorder = Backorder.objects.get(order=second)
    assert backorder.status == "allocated"
    assert second.status == Order.Status.OPEN
    order_ship(order=second)
    backorder.refresh_from_db()
    assert backorder.status == "fulfilled"
    assert integrity_problems() == []
    with pytest.raises(OrderClosed):
        order_cancel(order=first)


def test_cancel_some_units_takes_waiting_units_first(make_product, place):
    product = make_product(stock=2)
    order = place({product.sku: 5})
    order_cancel(order=order, lines=[CancelRequest(sku=product.sku, quantity=2)])
    line = order.lines.get()
    assert (line.quantity_allocated, line.quantity_backordered, line.quantity_cancelled) == (2, 1, 2)
    backorder = Backorder.objects.get()
    assert backorder.quantity_outstanding == 1
    with pytest.raises(InvalidInput):
        order_cancel(order=order, lines=[CancelRequest(sku=product.sku, quantity=9)])
    assert integrity_problems() == []


def test_nothing_to_ship(make_product, place):
    product = make_product(stock=0)
    order = place({product.sku: 1})
    with pytest.raises(NothingToShip):
        order_ship(order=order)


# Round trips of order placement (the hot path), pinned. In a test the service's transaction is a SAVEPOINT and
# RELEASE, standing for BEGIN and COMMIT. An in-stock order: the locking statement (products, their stock, the queue's
# demand and the customer in one round trip) and one statement writing the order, lines, allocations and counters.
# A backordered order also reads the customer's terms and the allocation policy, then in ONE statement the dates'
# inputs of all its short lines (the demand ahead, free stock, the supply port's open lines, suppliers and history
# stamp) and its reasons' facts (eta.etas_for_newcomers), writes its backorders, events and ETA request rows in one
# statement, reads the customer's preference and the channel's webhook endpoints in one, and inserts its outbox rows.
IN_STOCK_QUERIES = 4
BACKORDERED_QUERIES = 18  # a product never stocked: its product, the customer, terms and policy are read apart
# (here no policy exists yet: it is created, and read again when the backorders are written)


@pytest.mark.postgres  # the one-statement forms are PostgreSQL's; the embedded SQLite takes the ORM path
def test_placement_round_trips_are_fixed(make_product, place, customer, django_assert_num_queries):
    in_stock, out = make_product(stock=10), make_product(stock=0)
    place({in_stock.sku: 1}, customer=customer)  # the customer exists from now on, as for a returning customer
    with django_assert_num_queries(IN_STOCK_QUERIES):
        place({in_stock.sku: 1}, customer=customer)
    with django_assert_num_queries(BACKORDERED_QUERIES):
        place({out.sku: 1}, customer=customer)
