"""Exactly once under concurrency: a real Celery worker on Redis, PostgreSQL, threads placing orders and
receiving stock at the same time, and the same allocation task delivered several times."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import F, Sum
from django.utils import timezone

from backorders.models import Backorder
from backorders.selectors import products_needing_allocation
from backorders.tasks import allocate_product
from fulfilment.integrity import integrity_problems
from fulfilment.services import LineRequest, order_place
from inventory.models import StockItem
from orders.models import Allocation
from orders.services import CustomerData
from suppliers import services as supply

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _in_threads(jobs):
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def _settled(product_ids, timeout=30.0):
    """Wait until no product has free stock and waiting backorders (the worker drained the queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not set(products_needing_allocation()) & set(product_ids):
            return True
        time.sleep(0.2)
    return False


def test_concurrent_receipts_orders_and_duplicate_deliveries(make_product, allocation_worker, warehouse):
    a, b = make_product(), make_product()
    supply.supplier_create(code="acme", name="Acme")
    po = supply.purchase_order_create(
        supplier_code="acme",
        warehouse_code=warehouse.code,
        expected_date=timezone.localdate() + timedelta(days=3),
        lines=[supply.PurchaseOrderLineRequest(a.sku, 24), supply.PurchaseOrderLineRequest(b.sku, 12)],
        send=True,
    )

    def place(n):
        lines = [LineRequest(a.sku, 1 + n % 3)] + ([LineRequest(b.sku, 2)] if n % 2 else [])
        return lambda: order_place(customer=CustomerData(f"c{n}", f"c{n}@example.com", f"C {n}"), lines=lines)

    def receive(quantity_a, quantity_b):
        return lambda: supply.purchase_order_receive(
            purchase_order=po,
            lines=[supply.ReceiptLineRequest(a.sku, quantity_a), supply.ReceiptLineRequest(b.sku, quantity_b)],
        )

    def duplicate(product):
        return lambda: [allocate_product.delay(product.pk) for _ in range(3)]

    with allocation_worker():
        _in_threads([place(n) for n in range(6)])  # all backordered: no stock yet
        jobs = [place(n) for n in range(6, 14)] + [receive(6, 3) for _ in range(4)]
        jobs += [duplicate(a), duplicate(b)]
        _in_threads(jobs)
        assert _settled([a.pk, b.pk])

    assert integrity_problems() == []
    over = Backorder.objects.filter(quantity__lt=F("quantity_allocated") + F("quantity_cancelled"))
    assert not over.exists()
    for product in (a, b):
        item = StockItem.objects.get(product=product)
        assert item.on_hand == (24 if product == a else 12)
        reserved = Allocation.objects.filter(stock_item=item).aggregate(t=Sum("quantity"))["t"] or 0
        assert reserved == item.allocated <= item.on_hand
        # Demand exceeds supply for both: every received unit went to a customer, none stayed free.
        assert item.allocated == item.on_hand
    assert Backorder.objects.filter(status__in=Backorder.WAITING).exists()
