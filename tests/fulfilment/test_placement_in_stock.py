"""Order placement's one-statement in-stock path (fulfilment/services/placement_in_stock.py) against the Python path.

The statement restates the Python path's rules for one case (every line served whole from one warehouse, after the
queue, for a new customer or a known one with unchanged details). Over generated warehouses (priorities, inactive
ones), channel warehouse lists, stock, counters and waiting queues, the same order is placed by the statement and
then (its rows undone) by the Python path: the statement places exactly the orders the Python path serves that way,
with the same rows, and writes nothing otherwise. Then the path through the API: round trips, replays, fallbacks,
concurrency.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from decimal import Decimal

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.serializer_reuse import serialized
from fulfilment.integrity import integrity_problems
from fulfilment.serializers import OrderPlacedOutputSerializer, in_stock_placed_representation
from fulfilment.services import LineRequest, order_place
from fulfilment.services.placement import ORDER_TOTAL_MAX
from fulfilment.services.placement_in_stock import order_place_in_stock
from inventory.lots import LotInput
from inventory.models import Product, StockItem
from inventory.services import product_create, stock_adjust, warehouse_create
from orders.models import Allocation, Customer, Order, OrderLine
from orders.selectors import order_just_placed
from orders.services import CustomerData, api_key_create
from tests.threads import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ORDER_FIELDS = ["status", "total", "allow_split", "ship_policy", "priority", "customer_id", "channel_id", "currency",
                "idempotency_key", "request_fingerprint", "external_reference", "created_by_id", "cancelled_at",
                "requested_date"]  # fmt: skip
LINE_FIELDS = ["product_id", "quantity", "unit_price", "quantity_allocated", "quantity_backordered",
               "quantity_shipped", "quantity_cancelled", "at_risk"]  # fmt: skip


def _fast_off():
    return override_settings(OMS={**settings.OMS, "IN_STOCK_FAST_PATH": False})


def _scenario(seed: int):
    """Warehouses, a channel (and its list), products with stock, counters and a waiting queue; an order."""
    rng = random.Random(seed)
    tag = f"S{seed}"
    warehouses = [
        warehouse_create(code=f"{tag}-W{i}", name=f"W{i}", priority=rng.choice([1, 2, 3]), is_active=rng.random() < 0.8)
        for i in range(3)
    ]
    api_key, _ = api_key_create(channel_code=f"{tag}-shop")
    channel = api_key.channel
    listed = [w for w in warehouses if rng.random() < 0.4]
    channel.warehouses.set(listed)
    customer = Customer(
        channel=channel,
        external_id=f"{tag}-c",
        email=f"{tag}@example.com",
        name="Known",
        allow_split=rng.random() < 0.8,
    )
    if rng.random() < 0.75:  # else a customer the channel sends for the first time
        customer.save()
    products = []
    for p in range(3):
        product = product_create(
            sku=f"{tag}-P{p}", name=f"P{p}", unit_price=Decimal(rng.choice(["9.99", "0.50", "120"]))
        )
        queued = rng.choice([0, 0, 2, 5])
        if queued:  # a waiting backorder: placed while nothing was in stock (staff order, no channel)
            order_place(
                customer=CustomerData(f"{tag}-q{p}", "q@example.com", "Queued"),
                lines=[LineRequest(product.sku, queued)],
            )
        for w in warehouses:
            on_hand = rng.choice([0, 2, 5, 10, 20])
            if on_hand:
                stock_adjust(sku=product.sku, warehouse_code=w.code, quantity=on_hand, reason="count")
                allocated = rng.randint(
                    0, on_hand // 2
                )  # units reserved elsewhere (counter only: not an integrity test)
                StockItem.objects.filter(product=product, warehouse=w).update(allocated=allocated)
        products.append(product)
    lines = [LineRequest(p.sku, rng.randint(1, 6)) for p in rng.sample(products, rng.choice([1, 1, 2, 3]))]
    email = customer.email if rng.random() < 0.9 else "changed@example.com"
    name = rng.choice(["Known"] * 6 + ["", "Renamed"])
    data = CustomerData(customer.external_id, email, name)
    return channel, data, lines, products, bool(rng.random() < 0.8)


def _state(order, products):
    lines = sorted(
        (tuple(getattr(line, f) for f in LINE_FIELDS) for line in OrderLine.objects.filter(order=order)),
    )
    allocations = sorted(
        Allocation.objects.filter(order_line__order=order).values_list(
            "order_line__product_id", "stock_item_id", "quantity"
        )
    )
    counters = sorted(StockItem.objects.filter(product__in=products).values_list("id", "on_hand", "allocated"))
    fields = {f: getattr(Order.objects.get(pk=order.pk), f) for f in ORDER_FIELDS}
    return fields, lines, allocations, counters


def _undo(order, counters_before):
    Allocation.objects.filter(order_line__order=order).delete()
    OrderLine.objects.filter(order=order).delete()
    Order.objects.filter(pk=order.pk).delete()
    for pk, _on_hand, allocated in counters_before:
        StockItem.objects.filter(pk=pk).update(allocated=allocated)


def _simply_in_stock(order) -> bool:
    """What the statement may place: nothing backordered, each line whole from one stock item."""
    lines = list(OrderLine.objects.filter(order=order))
    return (
        all(
            line.quantity_backordered == 0
            and line.quantity_cancelled == 0
            and Allocation.objects.filter(order_line=line).count() == 1
            for line in lines
        )
        and not order.backorders.exists()
    )


@pytest.mark.parametrize("seed", range(64))
def test_the_statement_and_the_python_path_agree(seed):
    channel, data, lines, products, allow_split = _scenario(seed)
    before = sorted(StockItem.objects.filter(product__in=products).values_list("id", "on_hand", "allocated"))
    customer_before = _customers(channel)
    rng = random.Random(seed)
    requested = timezone.localdate() + timedelta(days=rng.randint(1, 30)) if rng.random() < 0.4 else None
    common = dict(ship_policy=rng.choice(["partial", "complete"]), priority="normal", requested_date=requested,
                  external_reference="")  # fmt: skip
    fast = order_place_in_stock(
        customer=data, lines=lines, channel=channel, scoped_key=None, fingerprint="", allow_split=allow_split,
        number=f"SO-FAST-{seed}", total_max=ORDER_TOTAL_MAX, **common,
    )  # fmt: skip
    fast_state = _state(fast, products) if fast is not None else None
    if fast is None:  # nothing written
        assert (
            sorted(StockItem.objects.filter(product__in=products).values_list("id", "on_hand", "allocated")) == before
        )
        assert not Order.objects.filter(number=f"SO-FAST-{seed}").exists()
    else:  # its answer, built directly, is the serializer's
        assert in_stock_placed_representation(fast) == serialized(
            OrderPlacedOutputSerializer, order_just_placed(order=fast)
        )
        fast_customers = _customers(channel)
        _undo(fast, before)
        if not customer_before:  # the statement created the customer: undone too, the Python path creates it again
            Customer.objects.filter(channel=channel).delete()
    assert _customers(channel) == customer_before
    with _fast_off():
        placed = order_place(customer=data, lines=lines, channel=channel, allow_split=allow_split, **common).order
    customer_changed = bool(customer_before) and _customers(channel) != customer_before
    python_simple = _simply_in_stock(placed) and not customer_changed
    assert (fast is not None) == python_simple, (seed, fast_state, _state(placed, products))
    if fast is not None:
        placed_state = _state(placed, products)
        fast_fields, placed_fields = dict(fast_state[0]), dict(placed_state[0])
        if not customer_before:  # a new customer each time: the same row but for its id
            assert fast_customers == _customers(channel)
            fast_fields.pop("customer_id"), placed_fields.pop("customer_id")
        assert (fast_fields, *fast_state[1:]) == (placed_fields, *placed_state[1:])


def _customers(channel):
    return list(
        Customer.objects.filter(channel=channel).values_list(
            "external_id", "email", "name", "tier", "lifetime_value", "allow_split"
        )
    )


def test_a_changed_customer_a_lot_tracked_product_or_an_unknown_sku_take_the_python_path(channel_key):
    channel, _ = channel_key
    warehouse_create(code="MAIN", name="Main")
    plain = product_create(sku="PLAIN", name="Plain", unit_price=Decimal("5"))
    stock_adjust(sku=plain.sku, warehouse_code="MAIN", quantity=10, reason="count")
    lot = product_create(sku="LOTTED", name="Lotted", unit_price=Decimal("5"), tracking=Product.Tracking.LOT)
    stock_adjust(sku=lot.sku, warehouse_code="MAIN", quantity=10, reason="count", lots=[LotInput("L1", 10, None)])
    known = CustomerData("known", "k@example.com", "K")
    Customer.objects.create(channel=channel, external_id="known", email="k@example.com", name="K")
    kwargs = dict(ship_policy="partial", priority="normal", requested_date=None, external_reference="",
                  scoped_key=None, fingerprint="", allow_split=True, total_max=ORDER_TOTAL_MAX)  # fmt: skip
    changed = CustomerData("known", "other@example.com", "K")

    def fast(customer, sku, qty, number):
        return order_place_in_stock(
            customer=customer, lines=[LineRequest(sku, qty)], channel=channel, number=number, **kwargs
        )

    assert fast(changed, "PLAIN", 1, "A") is None
    assert fast(known, "LOTTED", 1, "B") is None
    assert fast(known, "NOPE", 1, "C") is None
    assert fast(known, "PLAIN", 11, "E") is None  # more than in stock
    new = CustomerData("new", "n@example.com", "N")
    assert fast(new, "PLAIN", 11, "F") is None  # not in stock: the customer is not created either
    assert not Order.objects.exists()
    assert not Customer.objects.filter(external_id="new").exists()
    placed = fast(known, "PLAIN", 2, "D")
    assert placed is not None and placed.total == Decimal("10.00")
    assert StockItem.objects.get(product=plain).allocated == 2
    assert integrity_problems() == []


def _body(sku, qty=1, external_id="c-1"):
    return {"customer": {"external_id": external_id, "email": f"{external_id}@example.com", "name": "C"},
            "lines": [{"sku": sku, "quantity": qty}]}  # fmt: skip


def test_an_in_stock_order_through_the_api_is_two_round_trips(channel_client, make_product, warehouse):
    product = make_product(stock=50)
    first = channel_client.post("/api/v1/orders/", _body(product.sku), format="json")  # the customer exists after
    assert first.status_code == 201
    with CaptureQueriesContext(connection) as captured:
        response = channel_client.post("/api/v1/orders/", _body(product.sku, 3), format="json")
    assert response.status_code == 201, response.content
    # The API key, then the order in one statement (its own transaction: no BEGIN, no COMMIT; no health check).
    assert len(captured) == 2, [q["sql"][:80] for q in captured.captured_queries]
    body = response.json()
    assert body["status"] == "open" and body["lines"][0]["allocated"] == 3 and body["backorders"] == []
    assert body["total"] == str(product.unit_price * 3)
    detail = channel_client.get(f"/api/v1/orders/{body['number']}/").json()
    assert {k: v for k, v in detail.items() if k != "notifications"} == {
        k: v for k, v in body.items() if k not in ("dropped", "notifications")
    }
    assert StockItem.objects.get(product=product).allocated == 4
    assert integrity_problems() == []


def test_a_backordering_order_through_the_api_stays_within_twelve_round_trips(
    channel_client, make_product, warehouse, redis_broker
):
    """Outside a test's transaction: the in-stock statement is tried first (it writes nothing), then the Python path
    with its real BEGIN and COMMIT (tests/fulfilment/test_round_trips.py lists the others). The tasks it publishes go
    to the broker, as in production (run in-process they would add their own statements)."""
    from config.celery import app

    product = make_product(stock=1)
    stock_adjust(sku=product.sku, warehouse_code=warehouse.code, quantity=-1, reason="sold out")
    channel_client.post("/api/v1/orders/", _body(product.sku), format="json")
    app.conf.task_always_eager = False
    with CaptureQueriesContext(connection) as captured:
        response = channel_client.post("/api/v1/orders/", _body(product.sku, 2), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["backorders"][0]["quantity"] == 2
    assert len(captured) <= 12, [q["sql"][:80] for q in captured.captured_queries]


def test_idempotency_keys_replay_through_the_one_statement_path(channel_client, make_product):
    product = make_product(stock=50)
    channel_client.post("/api/v1/orders/", _body(product.sku), format="json")
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = channel_client.post("/api/v1/orders/", _body(product.sku, 2), format="json", **headers)
    again = channel_client.post("/api/v1/orders/", _body(product.sku, 2), format="json", **headers)
    other = channel_client.post("/api/v1/orders/", _body(product.sku, 5), format="json", **headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert StockItem.objects.get(product=product).allocated == 3
    assert integrity_problems() == []


def test_a_dropped_session_is_replaced_on_the_first_statement(channel_client, make_product):
    """No health check before a channel request: its first statement finds a dead session and retries once."""
    product = make_product(stock=50)
    assert channel_client.post("/api/v1/orders/", _body(product.sku), format="json").status_code == 201
    pid = connection.connection.get_backend_pid()
    killer = psycopg2.connect(_dsn())  # another session ends ours, as a database restart would
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()
    response = channel_client.post("/api/v1/orders/", _body(product.sku), format="json")
    assert response.status_code == 201, response.content
    assert connection.connection.get_backend_pid() != pid


def _dsn() -> str:
    s = connection.settings_dict
    return f"dbname={s['NAME']} user={s['USER']} host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432}"


def test_concurrent_channel_orders_never_oversell_nor_jump_the_queue(make_product, warehouse):
    """24 storefront orders at once on two SKUs (known customers): the statement and the Python path mix."""
    api_key, _ = api_key_create(channel_code="rush")
    channel = api_key.channel
    a = make_product(stock=0)
    b = make_product(stock=12)
    order_place(customer=CustomerData("early", "e@example.com", "E"), lines=[LineRequest(a.sku, 4)])  # waits: 4
    stock_adjust(sku=a.sku, warehouse_code=warehouse.code, quantity=10, reason="count")  # 4 to the queue, 6 free
    for i in range(24):
        Customer.objects.create(channel=channel, external_id=f"r{i}", email=f"r{i}@example.com", name=f"R{i}")
    lock = threading.Lock()
    placed = []

    def place(i):
        rng = random.Random(i)
        lines = [LineRequest(sku, rng.randint(1, 2)) for sku in rng.sample([a.sku, b.sku], rng.randint(1, 2))]
        result = order_place(customer=CustomerData(f"r{i}", f"r{i}@example.com", f"R{i}"), lines=lines, channel=channel)
        with lock:
            placed.append(result.order.pk)

    assert run_threads(24, place) == []
    assert len(placed) == 24
    for product, on_hand in ((a, 10), (b, 12)):
        item = StockItem.objects.get(product=product)
        assert item.on_hand == on_hand and 0 <= item.allocated <= on_hand
        wanted = OrderLine.objects.filter(product=product).aggregate(q=Sum("quantity"))["q"] or 0
        assert item.allocated == min(on_hand, wanted)  # nothing oversold, nothing left idle while someone waits
    early = OrderLine.objects.get(order__customer__external_id="early")
    assert early.quantity_allocated == 4  # the queue was served first
    assert integrity_problems() == []


def test_a_new_customer_is_created_by_the_statement_as_the_python_path_creates_one(
    channel_client, channel_key, make_product
):
    product = make_product(stock=50)
    assert channel_client.post("/api/v1/orders/", _body(product.sku), format="json").status_code == 201  # key used
    with CaptureQueriesContext(connection) as captured:
        response = channel_client.post("/api/v1/orders/", _body(product.sku, 2, external_id="first"), format="json")
    assert response.status_code == 201, response.content
    # The API key, the statement that finds no such customer (and writes nothing), the one that creates it with the
    # order: each its own transaction, no BEGIN or COMMIT.
    assert len(captured) == 3, [q["sql"][:80] for q in captured.captured_queries]
    customer = Customer.objects.get(external_id="first")
    assert (customer.channel_id, customer.email, customer.name, customer.tier, customer.lifetime_value,
            customer.allow_split) == (channel_key[0].pk, "first@example.com", "C", "standard", 0, True)  # fmt: skip
    assert (
        response.json()["customer"]
        == channel_client.get(f"/api/v1/orders/{response.json()['number']}/").json()["customer"]
    )
    assert Order.objects.get(number=response.json()["number"]).customer == customer


def test_concurrent_first_orders_of_one_new_customer_create_it_once(make_product, warehouse):
    """12 first orders of the same customer at once: one statement creates the customer, the others find it created
    meanwhile (the INSERT's conflict: they write nothing and the Python path places them) or see it committed."""
    api_key, _ = api_key_create(channel_code="rush-new")
    product = make_product(stock=100)

    def place(i):
        order_place(
            customer=CustomerData("newcomer", "n@example.com", "N"), lines=[LineRequest(product.sku, 1)],
            channel=api_key.channel,
        )  # fmt: skip

    assert run_threads(12, place) == []
    assert Customer.objects.filter(external_id="newcomer").count() == 1
    assert Order.objects.filter(customer__external_id="newcomer").count() == 12
    assert StockItem.objects.get(product=product).allocated == 12
    assert integrity_problems() == []
