"""Warehouse routing (inventory.routing): one warehouse that fills a line whole when one exists, else warehouse
priority; never split when the customer or order says so; only the channel's warehouses. At placement (SQL lock
statement on PostgreSQL, the ORM elsewhere) and in the allocation engine (running sums, the routed plan, the Python
twin), which must agree."""

from __future__ import annotations

import random

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backorders import allocation
from backorders.models import Backorder
from fulfilment.integrity import integrity_problems
from inventory.models import Warehouse
from inventory.services import stock_adjust
from orders.models import Allocation, Order, SalesChannel
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ENGINES = ["auto", "python"]


@pytest.fixture
def warehouses(warehouse):
    """MAIN (priority 1) and EAST (priority 2)."""
    Warehouse.objects.filter(pk=warehouse.pk).update(priority=1)
    east = Warehouse.objects.create(code="EAST", name="East", priority=2)
    return Warehouse.objects.get(pk=warehouse.pk), east


def _stock(product, code, quantity):
    stock_adjust(sku=product.sku, warehouse_code=code, quantity=quantity, reason="count")


def _from(order) -> dict[str, int]:
    """warehouse code → units allocated to the order's (one) line."""
    return dict(
        Allocation.objects.filter(order_line__order=order).values_list("stock_item__warehouse__code", "quantity")
    )


def _run(engine, product):
    if engine == "python":
        return transaction.atomic()(allocation._allocate_product_python)(product_id=product.pk)
    return allocation.backorders_allocate(product_id=product.pk)


def test_one_warehouse_that_fills_the_line_whole_comes_first(make_product, place, warehouses):
    product = make_product(stock=3)  # MAIN, priority 1
    _stock(product, "EAST", 10)
    assert _from(place({product.sku: 5})) == {"EAST": 5}
    assert _from(place({product.sku: 2})) == {"MAIN": 2}  # both can: the better priority
    assert integrity_problems() == []


def test_otherwise_by_warehouse_priority(make_product, place, warehouses):
    main, east = warehouses
    product = make_product(stock=3)
    _stock(product, "EAST", 4)
    assert _from(place({product.sku: 5})) == {"MAIN": 3, "EAST": 2}
    Warehouse.objects.filter(pk=east.pk).update(priority=0)
    other = make_product(stock=3)
    _stock(other, "EAST", 4)
    order = place({other.sku: 6})
    assert _from(order) == {"EAST": 4, "MAIN": 2}


@pytest.mark.parametrize("engine", ENGINES)
def test_no_split_customer_waits_whole_then_is_served_whole(engine, make_product, place, warehouses):
    """The issue's example: 3 in MAIN, 4 in EAST, an order of 5 that may not be split: 5 backordered; served whole
    once one warehouse has 5."""
    product = make_product(stock=3)
    _stock(product, "EAST", 4)
    customer = CustomerFactory(allow_split=False)
    order = place({product.sku: 5}, customer=customer)
    line = order.lines.get()
    assert (line.quantity_allocated, line.quantity_backordered, order.allow_split) == (0, 5, False)
    assert _run(engine, product) == 0  # the engine does not split it either
    _stock(product, "MAIN", 2)  # MAIN now has 5
    assert _run(engine, product) == 5
    assert _from(order) == {"MAIN": 5}
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN
    assert integrity_problems() == []


def test_order_level_no_split_and_a_split_customer_meanwhile(make_product, place, warehouses):
    product = make_product(stock=3)
    _stock(product, "EAST", 4)
    whole = place({product.sku: 5}, allow_split=False)
    assert (whole.allow_split, _from(whole)) == (False, {})
    split = place({product.sku: 5})
    assert _from(split) == {"MAIN": 2}  # the queue is owed 5 units: a newcomer takes what is left over
    # The engine passes over the whole-or-nothing order (no warehouse has 5) and serves the next one: 3 from EAST.
    assert allocation.backorders_allocate(product_id=product.pk) == 3
    assert (_from(whole), _from(split)) == ({}, {"MAIN": 2, "EAST": 3})
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_passed_over_no_split_backorder_does_not_hold_up_the_queue(engine, make_product, place, warehouses):
    product = make_product()
    first = place({product.sku: 5}, customer=CustomerFactory(allow_split=False), priority="high")
    second = place({product.sku: 2})
    third = place({product.sku: 4})
    _stock(product, "MAIN", 3)
    _stock(product, "EAST", 4)
    assert _run(engine, product) == 6
    assert (_from(first), _from(second), _from(third)) == ({}, {"MAIN": 2}, {"EAST": 4})
    event = Backorder.objects.get(order=third).events.get(kind="allocated")
    assert event.data["queue_position"] == 3  # the passed-over backorder keeps its place
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_channel_ships_only_from_its_warehouses(engine, make_product, place, warehouses):
    main, east = warehouses
    channel = SalesChannel.objects.create(code="east-shop", name="East shop")
    channel.warehouses.set([east])
    product = make_product(stock=10)
    _stock(product, "EAST", 2)
    order = place({product.sku: 5}, channel=channel, customer=CustomerFactory())
    assert _from(order) == {"EAST": 2}
    assert order.lines.get().quantity_backordered == 3
    _stock(product, "MAIN", 5)
    assert _run(engine, product) == 0  # MAIN's stock is not this channel's
    _stock(product, "EAST", 3)
    assert _run(engine, product) == 3
    assert _from(order) == {"EAST": 5}
    staff = place({product.sku: 4})  # without a channel: every active warehouse
    assert _from(staff) == {"MAIN": 4}
    assert integrity_problems() == []


@pytest.mark.postgres
def test_channel_warehouses_through_the_api(make_product, channel_client, channel_key, warehouses):
    main, east = warehouses
    channel_key[0].warehouses.set([east])
    product = make_product(stock=10)
    _stock(product, "EAST", 4)
    body = {
        "customer": {"external_id": "c-9", "email": "c9@example.com", "name": "C Nine"},
        "lines": [{"sku": product.sku, "quantity": 5}],
        "allow_split": False,
    }
    response = channel_client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["allow_split"] is False
    assert response.json()["lines"][0]["backordered"] == 5  # EAST has 4; MAIN is not the channel's


def _snapshot(product):
    return (
        sorted(
            Allocation.objects.filter(stock_item__product=product).values_list(
                "order_line_id", "stock_item_id", "quantity"
            )
        ),
        sorted(Backorder.objects.filter(product=product).values_list("id", "quantity_allocated", "status")),
        sorted(
            Backorder.objects.filter(product=product)
            .filter(events__kind__in=["allocated", "partially_allocated"])
            .values_list("id", "events__quantity", "events__data__queue_position")
        ),
    )


@pytest.mark.postgres
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_running_sums_agree_with_the_routed_plan(seed, make_product, place):
    """Where routing has nothing to decide (free stock in one warehouse, every line may be split and may use it),
    the engine's running-sum statement and its routed plan (the rule placement uses) give the same rows."""
    rng = random.Random(seed)
    product = make_product()
    for _ in range(rng.randint(2, 12)):
        place(
            {product.sku: rng.randint(1, 6)},
            customer=CustomerFactory(tier=rng.choice(["standard", "gold"])),
            priority=rng.choice(["low", "normal", "high"]),
        )
    _stock(product, "MAIN", rng.randint(1, 30))
    results = []
    for routed in (False, True):
        sid = transaction.savepoint()
        units = allocation._allocate_product_sql(product_id=product.pk, routed=routed)
        results.append((units, _snapshot(product)))
        transaction.savepoint_rollback(sid)
    assert results[0] == results[1]


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(4))
def test_routed_sql_agrees_with_the_python_twin(seed, make_product, place, warehouses):
    """Stock over three warehouses, a channel limited to some, no-split customers: the set-based apply of the routed
    plan and the Python twin write the same allocations."""
    rng = random.Random(seed)
    west = Warehouse.objects.create(code="WEST", name="West", priority=rng.randint(0, 3))
    channel = SalesChannel.objects.create(code=f"ch-{seed}", name="Channel", max_priority="high")
    channel.warehouses.set([warehouses[1], west])
    product = make_product()
    for _ in range(rng.randint(4, 14)):
        customer = CustomerFactory(allow_split=rng.random() > 0.3)
        kwargs = {"channel": channel} if rng.random() > 0.5 else {}
        place({product.sku: rng.randint(1, 6)}, customer=customer, priority=rng.choice(["low", "high"]), **kwargs)
    for code in ("MAIN", "EAST", "WEST"):
        _stock(product, code, rng.randint(1, 12))
    results = []
    for engine in ENGINES:
        sid = transaction.savepoint()
        units = _run(engine, product)
        results.append((units, _snapshot(product), integrity_problems()))
        transaction.savepoint_rollback(sid)
    assert results[0] == results[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_lot_tracked_routing_picks_the_warehouse_then_fefo_within_it(engine, place, warehouses):
    """Routing decides the warehouse (one that fills the line whole), FEFO the lots inside it (issue 16's two halves
    together), at placement and in the engine's routed plan."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.lots import LotInput
    from inventory.models import Product
    from orders.models import LotAllocation
    from tests.inventory.factories import ProductFactory

    product = ProductFactory(tracking=Product.Tracking.LOT, min_shelf_life_days=0)
    day = timezone.localdate()

    def receive(code, *lots):
        stock_adjust(
            sku=product.sku,
            warehouse_code=code,
            quantity=sum(q for _, q, _ in lots),
            reason="receipt",
            lots=[LotInput(n, q, day + timedelta(days=d)) for n, q, d in lots],
        )

    receive("MAIN", ("M1", 2, 20))
    receive("EAST", ("E-LATE", 3, 90), ("E-SOON", 3, 30))
    order = place({product.sku: 4})  # MAIN (priority 1) has 2: EAST fills it whole, its soonest lot first
    assert _from(order) == {"EAST": 4}
    assert sorted(LotAllocation.objects.filter(order_line__order=order).values_list("lot__number", "quantity")) == [
        ("E-LATE", 1),
        ("E-SOON", 3),
    ]
    waiting = place({product.sku: 3}, customer=CustomerFactory(allow_split=False))  # 2 + 2 left: waits whole
    assert _from(waiting) == {}
    receive("MAIN", ("M2", 1, 60))  # MAIN has 3 now
    assert _run(engine, product) == 3
    assert _from(waiting) == {"MAIN": 3}
    assert sorted(LotAllocation.objects.filter(order_line__order=waiting).values_list("lot__number", "quantity")) == [
        ("M1", 2),
        ("M2", 1),
    ]
    assert integrity_problems() == []


# --- staff reallocation keeps the routing rules ---------------------------------------------------------------


@pytest.fixture
def two_held(make_product, place, warehouses):
    """Two normal backorders hold MAIN's 3 units and EAST's 2 (allocated by the engine after a restock)."""
    product = make_product()
    held = [place({product.sku: 3}), place({product.sku: 2})]
    _stock(product, "MAIN", 3)
    _stock(product, "EAST", 2)
    allocation.backorders_allocate(product_id=product.pk)
    assert [_from(order) for order in held] == [{"MAIN": 3}, {"EAST": 2}]
    return product, held


def test_reallocation_moves_only_units_in_the_receiving_channels_warehouses(two_held, place, warehouses, staff_user):
    from backorders.services import backorder_reallocate

    product, held = two_held
    channel = SalesChannel.objects.create(code="east-shop", name="East shop", max_priority="critical")
    channel.warehouses.set([warehouses[1]])
    urgent = place({product.sku: 4}, channel=channel, customer=CustomerFactory(), priority="critical")
    assert backorder_reallocate(backorder=Backorder.objects.get(order=urgent), user=staff_user) == 2
    assert _from(urgent) == {"EAST": 2}
    assert [_from(order) for order in held] == [{"MAIN": 3}, {}]  # MAIN's units are not this channel's
    assert integrity_problems() == []


def test_reallocation_to_a_no_split_order_is_whole_from_one_warehouse_or_nothing(two_held, place, staff_user):
    from backorders.exceptions import NothingToReallocate
    from backorders.services import backorder_reallocate

    product, held = two_held
    whole = CustomerFactory(allow_split=False)
    split = place({product.sku: 4}, customer=whole, priority="critical")  # would take EAST 2 + MAIN 2
    with pytest.raises(NothingToReallocate) as refused:
        backorder_reallocate(backorder=Backorder.objects.get(order=split), user=staff_user)
    assert refused.value.details["allow_split"] is False
    assert [_from(order) for order in held] == [{"MAIN": 3}, {"EAST": 2}]  # nothing moved
    fits = place({product.sku: 2}, customer=CustomerFactory(allow_split=False), priority="critical")
    assert backorder_reallocate(backorder=Backorder.objects.get(order=fits), user=staff_user) == 2
    assert _from(fits) == {"EAST": 2}
    assert integrity_problems() == []
