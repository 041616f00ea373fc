"""The allocation engine: queue order, policy weights, overrides, partial and ship-complete, multi-warehouse.

Each rule runs on both engines where they exist: the set-based SQL engine on PostgreSQL and the Python loop
(the embedded SQLite default), and on PostgreSQL the two must agree row for row.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from backorders import allocation
from backorders.models import AllocationPolicy, AllocationRun, Backorder
from backorders.services import backorder_priority_change, policy_activate, policy_scores_recompute
from fulfilment.integrity import integrity_problems
from inventory.models import StockItem, StockMovement, Warehouse
from orders.models import Allocation, Customer
from tests.orders.factories import CustomerFactory


def _add_stock(product, quantity, warehouse="MAIN"):
    """Units arrive without running the allocation task (the test runs the engine itself)."""
    wh, _ = Warehouse.objects.get_or_create(code=warehouse, defaults={"name": warehouse})
    item, _ = StockItem.objects.get_or_create(product=product, warehouse=wh)
    StockItem.objects.filter(pk=item.pk).update(on_hand=item.on_hand + quantity)
    StockMovement.objects.create(stock_item=item, kind="receipt", quantity=quantity, reference="TEST")
    return item


def _customer(tier="standard", ltv="0"):
    return CustomerFactory(tier=tier, lifetime_value=Decimal(ltv))


def _got(orders):
    return [Backorder.objects.get(order=o).quantity_allocated for o in orders]


ENGINES = ["auto", "python"]


def _run(engine, product):
    if engine == "python":
        return allocation.transaction.atomic()(allocation._allocate_product_python)(product_id=product.pk)
    return allocation.backorders_allocate(product_id=product.pk)


@pytest.mark.parametrize("engine", ENGINES)
def test_priority_class_then_score_then_oldest(engine, make_product, place):
    product = make_product()
    low = place({product.sku: 1}, customer=_customer("platinum", "9000"), priority="low")
    old_normal = place({product.sku: 1}, customer=_customer())
    gold_normal = place({product.sku: 1}, customer=_customer("gold"))
    new_normal = place({product.sku: 1}, customer=_customer())
    critical = place({product.sku: 1}, customer=_customer(), priority="critical")
    high = place({product.sku: 1}, customer=_customer(), priority="high")
    orders = [critical, high, gold_normal, old_normal, new_normal, low]
    for free in range(1, 7):
        _add_stock(product, 1)
        assert _run(engine, product) == 1
        assert _got(orders) == [1] * free + [0] * (6 - free)
    assert _run(engine, product) == 0  # nothing left: a second run changes nothing
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_partial_allocation_keeps_the_rest_waiting(engine, make_product, place):
    product = make_product()
    first = place({product.sku: 5})
    second = place({product.sku: 5})
    _add_stock(product, 7)
    assert _run(engine, product) == 7
    a, b = Backorder.objects.get(order=first), Backorder.objects.get(order=second)
    assert (a.status, a.quantity_allocated) == ("allocated", 5)
    assert (b.status, b.quantity_allocated, b.quantity_outstanding) == ("partially_allocated", 2, 3)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("open", "backordered")
    kinds = list(b.events.values_list("kind", "quantity", "data__queue_position"))
    assert ("partially_allocated", 2, 2) in kinds
    assert StockItem.objects.get(product=product).allocated == 7
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_ship_complete_orders_still_reserve(engine, make_product, place):
    a, b = make_product(stock=1), make_product()
    order = place({a.sku: 1, b.sku: 3}, ship_policy="complete")
    _add_stock(b, 2)
    assert _run(engine, b) == 2
    backorder = Backorder.objects.get(order=order, product=b)
    assert (backorder.status, backorder.quantity_allocated) == ("partially_allocated", 2)
    assert Allocation.objects.filter(order_line__order=order).count() == 2
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_multi_warehouse_stock_is_taken_in_stock_item_order(engine, make_product, place):
    product = make_product()
    order = place({product.sku: 5})
    first = _add_stock(product, 3, "MAIN")
    second = _add_stock(product, 4, "EAST")
    assert _run(engine, product) == 5
    assert dict(Allocation.objects.filter(order_line__order=order).values_list("stock_item_id", "quantity")) == {
        first.pk: 3,
        second.pk: 2,
    }
    assert integrity_problems() == []


@pytest.mark.parametrize("engine", ENGINES)
def test_policy_weights_change_the_order(engine, make_product, place):
    product = make_product()
    standard_big = place({product.sku: 1}, customer=_customer("standard", "50000"))
    gold = place({product.sku: 1}, customer=_customer("gold"))
    # Default weights: gold 20 beats standard with the capped LTV bonus (9).
    _add_stock(product, 1)
    _run(engine, product)
    assert _got([gold, standard_big]) == [1, 0]

    product2 = make_product()
    standard_big = place({product2.sku: 1}, customer=Customer.objects.get(pk=standard_big.customer_id))
    gold = place({product2.sku: 1}, customer=Customer.objects.get(pk=gold.customer_id))
    fcfs = AllocationPolicy.objects.create(name="Lifetime value first", gold_weight=0, lifetime_value_cap=100)
    policy_activate(policy=fcfs)
    _add_stock(product2, 1)
    _run(engine, product2)
    assert _got([standard_big, gold]) == [1, 0]


def test_policy_rescoring_is_set_based_and_matches_python_score(make_product, place, django_assert_max_num_queries):
    product = make_product()
    orders = [place({product.sku: 1}, customer=_customer(tier, ltv)) for tier, ltv in
              [("standard", "0"), ("silver", "2500"), ("gold", "123456"), ("platinum", "10")]]  # fmt: skip
    policy = AllocationPolicy.objects.create(name="Custom", gold_weight=7, lifetime_value_weight=Decimal("2.5"))
    AllocationPolicy.objects.filter(is_active=True).update(is_active=False)
    AllocationPolicy.objects.filter(pk=policy.pk).update(is_active=True)
    policy.refresh_from_db()
    # products, their stock locks, the UPDATE, the follow-up requests (one durable upsert per kind, for all products)
    with django_assert_max_num_queries(7):
        assert policy_scores_recompute(policy=policy) == 4
    for order in orders:
        customer = Customer.objects.get(pk=order.customer_id)
        expected = policy.score(tier=customer.tier, lifetime_value=customer.lifetime_value)
        assert Backorder.objects.get(order=order).priority_score == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_priority_override_moves_a_backorder_to_the_front(engine, make_product, place, staff_user):
    product = make_product()
    first = place({product.sku: 2})
    hospital = place({product.sku: 2})
    backorder = Backorder.objects.get(order=hospital)
    backorder_priority_change(backorder=backorder, priority="critical", reason="hospital", user=staff_user)
    event = backorder.events.get(kind="priority_changed")
    assert (event.actor, event.data["reason"], event.created_by) == ("staff", "hospital", staff_user)
    _add_stock(product, 2)
    _run(engine, product)
    assert _got([hospital, first]) == [2, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_orders_leave_backordered_only_when_every_line_is_served(engine, make_product, place):
    """The engine recomputes the status of the orders it completes: single-product orders inside its main
    statement (on PostgreSQL), orders with other products' lines after locking them; both as order_status_derive."""
    from fulfilment.services import order_ship
    from orders.models import Order

    p, q, r = make_product(stock=1), make_product(), make_product(stock=1)
    part_shipped = place({p.sku: 2})  # 1 reserved and shipped below, 1 waiting
    order_ship(order=part_shipped)
    single = place({p.sku: 1})
    other_waiting = place({p.sku: 1, q.sku: 1})  # q has no stock: still waits after p is served
    other_served = place({p.sku: 1, r.sku: 1})  # r was reserved at placement
    statuses = [o.status for o in Order.objects.filter(pk__in=[single.pk, other_waiting.pk, other_served.pk])]
    assert statuses == [Order.Status.BACKORDERED] * 3
    _add_stock(p, 4)
    assert _run(engine, p) == 4
    got = {o.pk: o.status for o in Order.objects.all()}
    assert got == {
        part_shipped.pk: Order.Status.PARTIALLY_SHIPPED,
        single.pk: Order.Status.OPEN,
        other_waiting.pk: Order.Status.BACKORDERED,
        other_served.pk: Order.Status.OPEN,
    }
    assert integrity_problems() == []


@pytest.mark.postgres
def test_single_line_orders_leave_backordered_without_an_order_lock(make_product, place):
    """Orders whose only line was just completed change status inside the engine's statement: no separate lock
    and recompute of the orders (docs/performance.md, "Allocation"); an order with another product's line still
    goes through the lock and the recompute."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order

    p, q = make_product(), make_product(stock=1)
    singles = [place({p.sku: 1}) for _ in range(3)]
    _add_stock(p, 3)
    with CaptureQueriesContext(connection) as ctx:
        assert allocation.backorders_allocate(product_id=p.pk) == 3
    assert not [x["sql"] for x in ctx.captured_queries if "FOR NO KEY UPDATE OF o" in x["sql"]]
    assert set(Order.objects.filter(pk__in=[o.pk for o in singles]).values_list("status", flat=True)) == {"open"}

    mixed = place({p.sku: 1, q.sku: 1})
    _add_stock(p, 1)
    with CaptureQueriesContext(connection) as ctx:
        assert allocation.backorders_allocate(product_id=p.pk) == 1
    assert [x["sql"] for x in ctx.captured_queries if "FOR NO KEY UPDATE OF o" in x["sql"]]
    assert Order.objects.get(pk=mixed.pk).status == "open"
    assert integrity_problems() == []


@pytest.mark.postgres
def test_orders_and_lines_leave_room_on_each_page_for_hot_updates(db):
    """fillfactor 50: the status and counter updates of a whole page of orders stay on their page (HOT)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN ('orders_order', 'orders_orderline')")
        options = dict(cursor.fetchall())
    assert options == {"orders_order": ["fillfactor=50"], "orders_orderline": ["fillfactor=50"]}


@pytest.mark.postgres
def test_sql_engine_agrees_with_python_engine(make_product, place):
    """Same queue, same stock: the set-based engine and the loop give every backorder the same units."""
    results = []
    for engine in ("auto", "python"):
        product = make_product()
        orders = []
        for i in range(30):
            tier = ["standard", "silver", "gold", "platinum"][i % 4]
            orders.append(
                place(
                    {product.sku: 1 + i % 4},
                    customer=_customer(tier, str(i * 700)),
                    priority=["low", "normal", "high"][i % 3],
                )
            )
        _add_stock(product, 20, "MAIN")
        _add_stock(product, 17, "EAST")
        assert _run(engine, product) == 37
        results.append(
            [
                (
                    b.quantity_allocated,
                    b.status,
                    list(
                        b.events.filter(kind__in=["allocated", "partially_allocated"]).values_list(
                            "quantity", "data__queue_position"
                        )
                    ),
                )
                for b in (Backorder.objects.get(order=o) for o in orders)
            ]
        )
    assert results[0] == results[1]
    assert integrity_problems() == []


def test_allocation_task_counts_attempts_and_stops_a_poison_message(make_product, place, monkeypatch):
    from backorders import tasks

    product = make_product()
    place({product.sku: 1})
    _add_stock(product, 1)

    def boom(**kwargs):
        raise RuntimeError("poison")

    monkeypatch.setattr(allocation, "backorders_allocate", boom)
    for _ in range(tasks.MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            tasks.allocate_product.run(product.pk)
    run = AllocationRun.objects.get(product=product)
    assert (run.attempts, run.last_error) == (tasks.MAX_ATTEMPTS, "RuntimeError: poison")
    assert tasks.allocate_product.run(product.pk) == 0  # skipped, not raised: the message stops looping
    monkeypatch.undo()
    from backorders.services import allocation_run_reset

    allocation_run_reset(product_id=product.pk)
    assert tasks.allocate_product.run(product.pk) == 1
    assert AllocationRun.objects.get(product=product).attempts == 0


def test_sweep_finds_products_with_free_stock_and_waiting_backorders(make_product, place):
    from backorders.tasks import allocation_sweep

    stuck, fine = make_product(), make_product(stock=5)
    order = place({stuck.sku: 2})
    _add_stock(stuck, 2)  # the allocation message was "lost"
    assert allocation_sweep.run() == [stuck.pk]
    assert fine.pk not in allocation_sweep.run()
    assert _got([order]) == [2]  # eager in tests: the sweep's task ran


@pytest.mark.parametrize("seed", range(4))
def test_random_queues_match_a_reference_model(seed, make_product, place):
    """Random priorities, tiers, quantities, earlier partial allocations and stock split over warehouses: the engine
    gives exactly what a plain reference model of the queue rule gives, and the books balance."""
    import random

    rng = random.Random(seed)
    product = make_product()
    orders = [
        place(
            {product.sku: rng.randint(1, 6)},
            customer=_customer(rng.choice(["standard", "silver", "gold", "platinum"]), str(rng.randint(0, 20000))),
            priority=rng.choice(["low", "normal", "high", "critical"]),
        )
        for _ in range(rng.randint(5, 25))
    ]
    for _ in range(2):  # two arrivals, so the second run starts from partial allocations
        warehouses = ["MAIN", "EAST", "WEST"][: rng.randint(1, 3)]
        for code in warehouses:
            _add_stock(product, rng.randint(1, 15), code)
        queue = list(
            Backorder.objects.filter(product=product, status__in=Backorder.WAITING).order_by(*allocation.QUEUE_ORDER)
        )
        free = sum(i.on_hand - i.allocated for i in StockItem.objects.filter(product=product))
        expected = {}
        for backorder in queue:
            give = min(backorder.quantity_outstanding, free)
            free -= give
            expected[backorder.pk] = backorder.quantity_allocated + give
        allocation.backorders_allocate(product_id=product.pk)
        got = dict(Backorder.objects.filter(pk__in=expected).values_list("pk", "quantity_allocated"))
        assert got == expected
    assert integrity_problems() == []
    assert all(b.quantity_allocated <= b.quantity for b in Backorder.objects.filter(order__in=orders))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ["policy rescore", "priority override"])
def test_queue_writers_take_the_stock_locks_first(
    writer, make_product, place, staff_user, held_elsewhere, lock_timeout
):
    """Re-scoring and a priority override wait for the product's stock lock like every queue writer (the global
    lock order), so they cannot interleave with an allocation run, which holds the stock lock while it locks
    and reorders the queue."""
    from django.db import OperationalError

    from inventory.locks import stock_items_lock_for_products

    product = make_product(stock=1)
    order = place({product.sku: 3})  # 1 reserved, 2 waiting
    backorder = Backorder.objects.get(order=order)

    def write():
        if writer == "policy rescore":
            return policy_scores_recompute()
        return backorder_priority_change(backorder=backorder, priority="critical", reason="hospital", user=staff_user)

    with (
        held_elsewhere(lambda: stock_items_lock_for_products([product.pk])),
        pytest.raises(OperationalError, match="lock timeout"),
        lock_timeout("300ms"),
    ):
        write()
    result = write()  # and once the lock is free, it goes ahead
    backorder.refresh_from_db()
    if writer == "policy rescore":
        assert result == 1  # the one waiting backorder was re-scored
    else:
        assert backorder.priority == "critical"


def _foreign_key_check_on(order):
    """What PostgreSQL runs when another transaction inserts a row referencing ``order`` (e.g. an allocation
    run for another product of the same order writing its event): a FOR KEY SHARE lock held until commit."""
    from django.db import connection

    from orders.models import Order

    def take():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Order._meta.db_table} WHERE id = %s FOR KEY SHARE", [order.pk])

    return take


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_is_not_blocked_by_another_transactions_reference_to_the_order(
    engine, make_product, place, held_elsewhere, lock_timeout
):
    """Regression (a CI deadlock): two engines for two products of the same orders each inserted events (FOR KEY
    SHARE on the orders) and then locked the orders FOR UPDATE, each waiting on the other's share. Orders are
    now locked FOR NO KEY UPDATE, which a pending foreign-key check does not block."""
    from orders.models import Order

    product = make_product()
    order = place({product.sku: 2})
    _add_stock(product, 2)
    with held_elsewhere(_foreign_key_check_on(order)), lock_timeout("2s"):
        assert _run(engine, product) == 2
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN
    assert integrity_problems() == []
