"""``core.sql.insert_sql`` writes what ``bulk_create`` writes: the model is the one description of the table.

The hot paths (order placement's one statement, order records, the outbox) compose their INSERTs with it; its
per-model column plan is worked out once and cached, so these tests compare row for row, for every column, both
forms (``VALUES`` and the cast ``SELECT … WHERE`` form), on models with defaults, database defaults, auto_now
timestamps, decimals, dates, nullable and foreign-key columns.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.sql import insert_sql
from inventory.services import product_create
from orders.models import Customer, Order, OrderLine

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

_TIMESTAMPS = {"created_at", "updated_at"}  # set when written: compared as "both set, within a second"


def _row(model, pk):
    return model.objects.filter(pk=pk).values().get()


def _same(model, a, b, differ=frozenset()):
    """Rows ``a`` and ``b`` of ``model`` hold the same values but for their ids, the columns ``differ`` names (unique
    ones), and timestamps taken when written."""
    a, b = _row(model, a), _row(model, b)
    for name in _TIMESTAMPS & a.keys():
        assert a[name] is not None and b[name] is not None
        assert abs(a[name] - b[name]) < timedelta(seconds=5)
    drop = {"id", *_TIMESTAMPS, *differ}
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


def _insert(objs, **kwargs):
    sql, params = insert_sql(objs, **kwargs)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("where", ["", "true"])
def test_customers_orders_and_lines_are_written_as_bulk_create_writes_them(where):
    product = product_create(sku="P-1", name="P", unit_price=Decimal("9.99"))

    def customers(tag):
        return [
            Customer(external_id=f"{tag}-1", email="a@example.com", name="A", tier=Customer.Tier.GOLD),
            Customer(external_id=f"{tag}-2", email="", name="B", lifetime_value=Decimal("12.50"), allow_split=False),
        ]

    ours = _insert(customers("ours"), where=where)
    theirs = [c.pk for c in Customer.objects.bulk_create(customers("theirs"))]
    for a, b in zip(ours, theirs, strict=True):
        _same(Customer, a, b, differ={"external_id"})

    customer = Customer.objects.get(pk=theirs[0])

    def order(number, **extra):
        return Order(
            number=number,
            customer=customer,
            placed_at=timezone.now(),
            total=Decimal("19.98"),
            requested_date=date(2027, 1, 31),
            idempotency_key=f"k-{number}",
            **extra,
        )

    for extra in ({}, {"priority": Order.Priority.HIGH, "allow_split": False, "external_reference": "PO-9"}):
        tag = str(len(extra))
        (mine,) = _insert([order(f"A{tag}", **extra)], where=where)
        reference = _row(Order, mine)["external_reference"]
        Order.objects.filter(pk=mine).update(external_reference="")  # unique: out of the way of the second
        (other,) = [o.pk for o in Order.objects.bulk_create([order(f"B{tag}", **extra)])]
        assert reference == _row(Order, other)["external_reference"] == extra.get("external_reference", "")
        _same(Order, mine, other, differ={"number", "idempotency_key", "placed_at", "external_reference"})

    first, second = Order.objects.all()[:2]
    other_product = product_create(sku="P-2", name="P2", unit_price=Decimal("0.50"))

    def lines(parent):
        return [
            OrderLine(order=parent, product=product, quantity=3, unit_price=Decimal("9.99"), quantity_allocated=3),
            OrderLine(
                order=parent, product=other_product, quantity=1, unit_price=Decimal("0.50"), quantity_backordered=1,
                at_risk=True,
            ),
        ]  # fmt: skip

    theirs = [line.pk for line in OrderLine.objects.bulk_create(lines(second))]
    for a, b in zip(_insert(lines(first), where=where), theirs, strict=True):
        _same(OrderLine, a, b, differ={"order_id"})


def test_an_auto_now_timestamp_is_set_on_the_instance_as_bulk_create_sets_it():
    customer = Customer(external_id="t", email="t@example.com", name="T")
    assert customer.created_at is None
    insert_sql([customer])
    assert customer.created_at is not None and customer.updated_at is not None
