"""Concurrent ETA recomputes of one product: serialised and coalesced, every change announced once.

Real threads (each with its own PostgreSQL connection) call the task function at once, while the test holds the
product's stock lock from another connection so that all of them are inside the recompute before any writes:
before the fix each of them read the same old dates and wrote (and announced) the same changes."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

import core.queue
from backorders import eta
from backorders.models import Backorder, BackorderEvent, WorkRequest
from backorders.services import eta_recompute_run, work_requests_record
from backorders.tasks import eta_recompute
from inventory.models import StockItem
from notifications.models import Notification
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

WAITING = 200
THREADS = 6


def _lock_waiters() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _other_connection():
    import psycopg2

    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )


def _holding_stock_lock(product_id: int):
    """A second connection holding the product's stock rows locked, as an allocation or an order would."""
    other = _other_connection()
    cursor = other.cursor()
    cursor.execute(
        "SELECT id FROM inventory_stockitem WHERE product_id = %s ORDER BY id FOR NO KEY UPDATE", [product_id]
    )
    return other


@pytest.mark.postgres
def test_concurrent_recomputes_of_one_product_announce_each_move_once(
    make_product, place, customer, warehouse, monkeypatch
):
    product = make_product(stock=0)
    StockItem.objects.create(product=product, warehouse=warehouse)  # nothing on hand: the stock row to lock
    SupplierProductFactory(product=product, lead_time_days=10)
    with monkeypatch.context() as setup:
        # Placing the queue: each order gets its date at once (eta_for_newcomer); no task needed meanwhile.
        setup.setattr(core.queue, "enqueue_on_commit", lambda *args, **kwargs: None)
        for _ in range(WAITING):
            place({product.sku: 1}, customer=customer)
    today = timezone.localdate()
    assert set(Backorder.objects.filter(product=product).values_list("eta", "eta_basis")) == {
        (today + timedelta(days=10), "lead_time")
    }
    # A purchase order arrives for all of them, earlier than the lead time: every date moves, every move is news.
    PurchaseOrderLineFactory(
        product=product, quantity_ordered=WAITING, purchase_order__expected_date=today + timedelta(days=5)
    )
    with transaction.atomic():
        work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=[product.pk])  # as sending the PO does
    events_before = BackorderEvent.objects.filter(kind="eta_changed").count()
    notifications_before = Notification.objects.filter(event="eta_changed").count()

    errors: list[Exception] = []

    def recompute():
        try:
            eta_recompute(product.pk)  # the task, as N workers run it at once
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    blocker = _holding_stock_lock(product.pk)
    threads = [threading.Thread(target=recompute) for _ in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        # Every recompute still running is inside, waiting for the stock lock (before the fix: all of them).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alive = sum(thread.is_alive() for thread in threads)
            if alive and _lock_waiters() >= alive:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the recomputes never reached the stock lock")
    finally:
        blocker.rollback()
        blocker.close()
    for thread in threads:
        thread.join(60)
    assert errors == []

    moved = Backorder.objects.filter(product=product, eta=today + timedelta(days=5), eta_basis="purchase_order")
    assert moved.count() == WAITING
    events = BackorderEvent.objects.filter(kind="eta_changed").count() - events_before
    assert events == WAITING, f"{events} eta_changed events for {WAITING} moved backorders"
    twice = (
        BackorderEvent.objects.filter(kind="eta_changed", backorder__product=product)
        .values("backorder_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not twice.exists()
    # Each move announced once: one customer with 200 moves gets one digest listing them all (more than
    # ETA_DIGEST_ABOVE moved by one rewrite), not 200 e-mails — and never a per-order message besides.
    assert Notification.objects.filter(event="eta_changed").count() == notifications_before
    announced = [
        backorder_id
        for context in Notification.objects.filter(event="eta_digest").values_list("context", flat=True)
        for backorder_id in context["backorder_ids"]
    ]
    assert sorted(announced) == sorted(moved.values_list("id", flat=True))
    # The dates are a single recompute's: one more finds nothing to change; the request is done.
    assert eta.eta_recompute_product(product_id=product.pk) == 0
    assert not WorkRequest.objects.filter(product=product).exists()


def test_a_request_during_a_run_is_coalesced_into_one_more_run(make_product, place, monkeypatch):
    product = make_product(stock=0)
    SupplierProductFactory(product=product, lead_time_days=10)
    place({product.sku: 1})
    calls = []
    recompute = eta.eta_recompute_product

    def recompute_while_requests_come_in(*, product_id):
        calls.append(product_id)
        if len(calls) == 1:  # three requests (committed) while the first run is going on
            for _ in range(3):
                with transaction.atomic():
                    work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=[product_id])
        return recompute(product_id=product_id)

    monkeypatch.setattr(eta, "eta_recompute_product", recompute_while_requests_come_in)
    with transaction.atomic():
        work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=[product.pk])
    eta_recompute_run(product_id=product.pk)
    assert calls == [product.pk, product.pk]  # one more run for the three, not three
    assert not WorkRequest.objects.filter(product=product).exists()


@pytest.mark.postgres
def test_a_recompute_refused_the_lock_leaves_the_work_to_the_running_one(make_product, place, monkeypatch):
    product = make_product(stock=0)
    place({product.sku: 1})
    called = []
    monkeypatch.setattr(eta, "eta_recompute_product", lambda *, product_id: called.append(product_id) or 0)
    other = _other_connection()  # the running recompute, in another session, holds the product's lock
    other.cursor().execute("SELECT pg_advisory_lock(%s, %s)", [eta.ETA_LOCK_NAMESPACE, product.pk])
    try:
        assert eta_recompute_run(product_id=product.pk) == 0
        assert called == []
    finally:
        other.cursor().execute("SELECT pg_advisory_unlock(%s, %s)", [eta.ETA_LOCK_NAMESPACE, product.pk])
        other.close()
    eta_recompute_run(product_id=product.pk)
    assert called == [product.pk]
