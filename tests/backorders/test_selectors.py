"""The queue's waiting demand exists twice: as an ORM subquery and as plain SQL for placement's statement built once.
They agree on every status and every mix of allocated and cancelled units."""

import pytest
from django.db import connection

from backorders.models import Backorder
from backorders.selectors import waiting_demand_sql, waiting_demand_subquery
from inventory.models import StockItem

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_sql_and_orm_waiting_demand_agree(make_product, place):
    products = [make_product(stock=1) for _ in range(3)]
    for i in range(len(Backorder.Status.values)):
        for j, product in enumerate(products):
            place({product.sku: 6 + i + j})  # 1 unit in stock for the first: the rest are backordered
    # Every status, with units allocated and cancelled in varying amounts.
    for n, backorder in enumerate(Backorder.objects.order_by("pk")):
        status = Backorder.Status.values[n % len(Backorder.Status.values)]
        Backorder.objects.filter(pk=backorder.pk).update(
            status=status, quantity_allocated=n % 3, quantity_cancelled=n % 2
        )
    orm = dict(StockItem.objects.annotate(units=waiting_demand_subquery()).values_list("product_id", "units"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.product_id, ({waiting_demand_sql('s.product_id')}) FROM inventory_stockitem s")
        sql = dict(cursor.fetchall())
    assert orm == sql
    assert any(units > 0 for units in sql.values())
