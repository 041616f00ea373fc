"""order_records_create writes an order, its lines, allocations and stock counters in one statement on PostgreSQL;
the ORM path (SQLite, or one_statement=False) must write exactly the same rows from the same objects."""

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from inventory.models import StockItem
from orders.models import Allocation, Order, OrderLine
from orders.services import order_records_create

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _write(one_statement, customer, items, number):
    order = Order(
        number=number,
        customer=customer,
        placed_at=timezone.now(),
        status=Order.Status.OPEN,
        ship_policy=Order.ShipPolicy.PARTIAL,
        priority=Order.Priority.HIGH,
        currency="EUR",
        total=Decimal("31.50"),
        request_fingerprint="f" * 64,
    )
    lines = [
        OrderLine(
            order=order,
            product=item.product,
            quantity=3,
            unit_price=Decimal("10.50"),
            quantity_allocated=2,
            quantity_backordered=1,
            at_risk=i == 1,
        )
        for i, item in enumerate(items)
    ]
    allocations = [
        Allocation(order_line=line, stock_item=item, quantity=2) for line, item in zip(lines, items, strict=True)
    ]
    order_records_create(
        order=order,
        lines=lines,
        allocations=allocations,
        stock_quantities={item.pk: 2 for item in items},
        one_statement=one_statement,
    )
    return order, lines, allocations


def _rows(order):
    drop = {"id", "number", "order", "placed_at", "created_at", "order_line"}
    return (
        {k: v for k, v in model_to_dict(Order.objects.get(pk=order.pk)).items() if k not in drop},
        sorted(
            tuple(sorted((k, str(v)) for k, v in model_to_dict(line).items() if k not in drop))
            for line in OrderLine.objects.filter(order=order)
        ),
        sorted(
            (a.order_line.product_id, a.stock_item_id, a.quantity)
            for a in Allocation.objects.filter(order_line__order=order)
        ),
    )


def test_one_statement_and_orm_write_the_same_rows(make_product, customer):
    items = [StockItem.objects.get(product=make_product(stock=10)) for _ in range(2)]
    orm = _write(False, customer, items, "SO-ORM")
    sql = _write(True, customer, items, "SO-SQL")
    assert _rows(orm[0]) == _rows(sql[0])
    # Both set the keys on the objects they were given, matching the rows written.
    for order, lines, allocations in (orm, sql):
        assert Order.objects.get(pk=order.pk).number == order.number
        assert {(line.pk, line.product_id) for line in lines} == set(
            OrderLine.objects.filter(order=order).values_list("pk", "product_id")
        )
        assert {(a.pk, a.order_line_id, a.stock_item_id) for a in allocations} == set(
            Allocation.objects.filter(order_line__order=order).values_list("pk", "order_line_id", "stock_item_id")
        )
    # Each path allocated 2 units per item: 4 in all, counted once each.
    assert sorted(StockItem.objects.filter(pk__in=[i.pk for i in items]).values_list("allocated", flat=True)) == [4, 4]


def test_one_statement_writes_nothing_when_a_counter_would_break(make_product, customer):
    """The CHECK constraint (allocated ≤ on hand) fails the whole statement: no order, line or allocation is left."""
    from django.db import IntegrityError, transaction

    item = StockItem.objects.get(product=make_product(stock=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        _write(True, customer, [item], "SO-BAD")
    assert not Order.objects.filter(number="SO-BAD").exists()
    assert StockItem.objects.get(pk=item.pk).allocated == 0
