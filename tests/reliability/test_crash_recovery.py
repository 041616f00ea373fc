"""A worker killed mid-allocation: the work resumes as soon as a worker starts again, without beat.

Real worker processes (``celery worker -P solo``) on Redis and PostgreSQL. The test holds the product's stock rows
locked from another connection, so the allocation task blocks inside its transaction; then it kills the worker
(SIGKILL: no warm shutdown, its message stays unacknowledged until the broker's visibility timeout, an hour) and
drops whatever else was queued. Only the ``WorkRequest`` row written with the stock is left to say that the stock
is owed to the queue: a new worker must find it and finish within 30 s, allocating nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from backorders.models import AllocationRun, Backorder, WorkRequest
from backorders.services import eta_request, work_requests_record, work_requests_resend
from backorders.tasks import pending_work_sweep
from config.celery import app
from fulfilment.integrity import integrity_problems
from inventory.services import stock_adjust
from tests.suppliers.factories import PurchaseOrderLineFactory, SupplierProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
RECOVERY_BOUND = 30.0  # seconds, the bound


def wait_until(condition, timeout: float, what: str) -> float:
    """Seconds it took for ``condition()`` to hold (fails after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"gave up waiting {timeout:.0f} s for {what}")


def _other_connection():
    import psycopg2

    db = connection.settings_dict
    return psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432)


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def worker_process(tmp_path):
    """``worker_process()`` starts a real Celery worker (its own process group) on this test's database and the
    Redis broker; every one still running is killed at the end (only the processes this test started)."""
    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs a Redis broker (set CELERY_BROKER_URL=redis://…)")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        name = f"crash-test-{uuid.uuid4().hex[:8]}@%h"
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")  # noqa: SIM115 (closed with the process)
        command = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-P", "solo", "-n", name]
        command += ["-l", "WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process.log = log
        started.append(process)
        return process

    app.control.purge()
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        process.log.close()
    app.control.purge()
    # The killed worker's unacknowledged message would come back in an hour: drop it (this test's Redis db only).
    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("unacked", "unacked_index")


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # warm shutdown
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _allocated(product) -> int:
    return Backorder.objects.filter(product=product).aggregate(units=Sum("quantity_allocated"))["units"] or 0


@pytest.mark.worker
def test_a_worker_killed_mid_allocation_resumes_within_30_s_of_a_restart_without_beat(
    make_product, place, customer, warehouse, worker_process
):
    product = make_product(stock=0)
    orders = [place({product.sku: 2}, customer=customer) for _ in range(30)]  # 60 units waiting
    app.control.purge()  # their messages (ETA, notifications) are not what this test is about
    stock_adjust(sku=product.sku, warehouse_code=warehouse.code, quantity=40, reason="found")  # + its request row
    assert WorkRequest.objects.filter(kind="allocate", product=product).exists()

    blocker = _other_connection()  # as a long transaction on the product's stock would
    blocker.cursor().execute("SELECT id FROM inventory_stockitem WHERE product_id = %s FOR NO KEY UPDATE", [product.pk])
    try:
        first = worker_process()
        wait_until(lambda: _lock_waiters() >= 1, 60, "the allocation task to block on the stock lock")
        assert AllocationRun.objects.get(product=product).attempts == 1  # counted before the engine ran
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker dies mid-allocation
        first.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
    # The killed worker's message is unacknowledged (back only after the visibility timeout); drop everything else
    # queued too: only the database remembers the work.
    app.control.purge()
    wait_until(lambda: _lock_waiters() == 0, 30, "the killed worker's transaction to roll back")
    assert _allocated(product) == 0
    assert WorkRequest.objects.filter(kind="allocate", product=product).exists()

    second = worker_process()  # no beat: the worker's start-up sweep finds the request
    recovery = wait_until(lambda: _allocated(product) == 40, RECOVERY_BOUND, "the allocation to complete")
    print(f"\nallocation completed {recovery:.1f} s after the replacement worker was started")
    wait_until(
        lambda: not WorkRequest.objects.filter(kind="allocate", product=product).exists(), 10, "the request done"
    )
    _stop(second)

    assert integrity_problems() == []
    assert Backorder.objects.filter(product=product, status="allocated").count() == 20
    assert AllocationRun.objects.get(product=product).attempts == 0
    assert sum(o.lines.get().quantity_allocated for o in orders) == 40


@pytest.mark.worker
def test_an_eta_request_whose_message_was_lost_is_picked_up_by_the_sweep(make_product, place, celery_worker_run):
    product = make_product(stock=0)
    SupplierProductFactory(product=product, lead_time_days=10)
    with celery_worker_run():
        backorders = [place({product.sku: 1}) for _ in range(3)]
        wait_until(lambda: not WorkRequest.objects.filter(product=product).exists(), 30, "the placement's ETAs")
    today = timezone.localdate()
    PurchaseOrderLineFactory(product=product, quantity_ordered=3, purchase_order__expected_date=today + timedelta(3))
    with transaction.atomic():
        eta_request(product_ids=[product.pk])
    assert app.control.purge() >= 1  # the message is lost (e.g. the broker was flushed)
    WorkRequest.objects.filter(product=product).update(requested_at=timezone.now() - timedelta(minutes=1))

    with celery_worker_run():
        pending_work_sweep.delay()  # what beat sends every 10 s
        wait_until(
            lambda: (
                set(Backorder.objects.filter(product=product).values_list("eta", flat=True)) == {today + timedelta(3)}
            ),
            30,
            "the ETAs of the purchase order",
        )
        wait_until(lambda: not WorkRequest.objects.filter(product=product).exists(), 10, "the request done")
    assert len(backorders) == 3


def test_the_sweep_resends_only_requests_past_their_grace_and_not_again_at_once(make_product, monkeypatch):
    import core.queue

    sent = []
    monkeypatch.setattr(core.queue, "enqueue_on_commit", lambda task, *args: sent.append((task.name, *args)))
    product, other = make_product(), make_product()
    with transaction.atomic():
        work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=[product.pk, other.pk])
        work_requests_record(kind=WorkRequest.Kind.ALLOCATE, product_ids=[product.pk])
    assert work_requests_resend(older_than_seconds=15, resend_every_seconds=60) == []  # just made: in flight
    WorkRequest.objects.filter(product=product).update(requested_at=timezone.now() - timedelta(seconds=20))
    assert sorted(work_requests_resend(older_than_seconds=15, resend_every_seconds=60)) == [
        ("allocate", product.pk),
        ("eta", product.pk),
    ]
    assert work_requests_resend(older_than_seconds=15, resend_every_seconds=60) == []  # re-sent a moment ago
    # A worker that starts re-sends everything pending, whatever its age.
    assert len(work_requests_resend(older_than_seconds=0, resend_every_seconds=0)) == 3
    assert WorkRequest.objects.get(product=product, kind="eta").resent == 2
    assert sent.count(("backorders.tasks.allocate_product", product.pk)) == 2  # re-sent twice


def test_the_backlog_says_what_is_pending_and_overdue(make_product):
    from backorders.selectors import work_requests_backlog

    product, other = make_product(), make_product()
    with transaction.atomic():
        work_requests_record(kind=WorkRequest.Kind.ETA, product_ids=[product.pk, other.pk])
    WorkRequest.objects.filter(product=product).update(requested_at=timezone.now() - timedelta(minutes=5))
    backlog = work_requests_backlog(older_than_seconds=60)
    assert list(backlog) == ["eta"]
    assert (backlog["eta"]["pending"], backlog["eta"]["overdue"]) == (2, 1)
