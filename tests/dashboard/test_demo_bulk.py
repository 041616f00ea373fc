from __future__ import annotations

import io

import pytest

from backorders.models import Backorder
from dashboard import metrics
from dashboard.demo_bulk import BulkGenerationError, bulk_generate
from fulfilment.integrity import integrity_problems
from orders.models import Order, OrderLine


@pytest.mark.postgres
def test_bulk_generate_is_consistent(db):
    out = io.StringIO()
    summary = bulk_generate(orders=2_000, backorders=400, stdout=out)
    assert summary["orders"] == 2_000 and summary["backorders"] == 400
    assert Order.objects.count() == 2_000
    assert OrderLine.objects.count() == 3_000  # every second order has a second line
    assert Backorder.objects.count() == 400
    assert integrity_problems() == []
    statuses = set(Backorder.objects.values_list("status", flat=True))
    assert statuses == {"open", "fulfilled", "cancelled"}
    # every backorder's line carries its units: waiting → backordered, cancelled → cancelled
    for backorder in Backorder.objects.select_related("order_line")[:50]:
        line = backorder.order_line
        assert line.order_id == backorder.order_id and line.product_id == backorder.product_id
        assert backorder.quantity <= line.quantity
        if backorder.status == "open":
            assert line.quantity_backordered == backorder.quantity
        if backorder.status == "cancelled":
            assert line.quantity_cancelled == backorder.quantity
    assert "Generated 2,000 orders" in out.getvalue()
    # the KPIs run on it and see waiting backorders of every age
    assert sum(b["count"] for b in metrics.aging_buckets()) == Backorder.objects.filter(status="open").count()


@pytest.mark.postgres
def test_bulk_generate_twice_does_not_collide(db):
    bulk_generate(orders=300, backorders=60, stdout=io.StringIO())
    bulk_generate(orders=300, backorders=60, stdout=io.StringIO())
    assert Order.objects.count() == 600
    assert integrity_problems() == []


def test_bulk_generate_refuses_bad_input_or_sqlite(db, is_postgres):
    with pytest.raises(BulkGenerationError):
        bulk_generate(orders=10, backorders=20, stdout=io.StringIO())
    if not is_postgres:
        with pytest.raises(BulkGenerationError, match="PostgreSQL"):
            bulk_generate(orders=10, backorders=2, stdout=io.StringIO())
