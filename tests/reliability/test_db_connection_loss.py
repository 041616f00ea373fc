"""A task whose database connection is lost retries with backoff instead of failing, and a notification still ends
``sent`` exactly once (issue 12). A worker process on the test database, whose connections carry the application
name ``oms-test-<worker>``: only those backends are terminated (pg_terminate_backend), never anyone else's."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from notifications.models import Notification
from tests.notifications.factories import channel_with_webhook
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def backends_of(worker: str, *, waiting_on_a_lock: bool = False) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
    if waiting_on_a_lock:
        sql += " AND wait_event_type = 'Lock'"
    with connection.cursor() as cursor:
        cursor.execute(sql, [f"oms-test-{worker}"])
        return [pid for (pid,) in cursor.fetchall()]


def terminate(pids: list[int]) -> None:
    with connection.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def webhook_order(worker_processes, receiver, make_product, place):
    """An order whose only notification is a webhook to a local receiver; its send task waits in Redis until
    ``start_worker()`` starts a webhook worker process."""

    def make(delay: float = 0.0):
        r = receiver([200], delay=delay)
        shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
        place({make_product(stock=0).sku: 1}, customer=CustomerFactory(channel=shop, email=""), channel=shop)
        return r, Notification.objects.get()

    def start_worker():
        # Not waiting for its ping: it takes the waiting message at once.
        worker_processes("webhook", "-Q", "notifications.webhook", "--pool", "solo")

    make.start_worker = start_worker
    return make


def test_connection_lost_during_the_send_the_result_is_still_recorded_once(webhook_order):
    r, row = webhook_order(delay=3)
    webhook_order.start_worker()
    wait_until(lambda: Notification.objects.filter(pk=row.pk, sending_until__isnull=False).exists(), 30, "the claim")
    pids = backends_of("webhook")
    assert pids, "the worker keeps its connection between the claim and the record"
    terminate(pids)  # while the webhook is on the wire: the record step finds its connection gone
    wait_until(lambda: Notification.objects.filter(pk=row.pk, status="sent").exists(), 30, "sent")
    row.refresh_from_db()
    assert row.attempts == 1 and len(r.requests) == 1
    assert list(row.attempt_log.values_list("number", "outcome")) == [(1, "sent")]


def test_connection_lost_in_the_claim_the_task_retries_with_backoff_and_sends_once(webhook_order):
    r, row = webhook_order()
    holding, release = threading.Event(), threading.Event()

    def hold_row():
        try:
            with transaction.atomic():
                list(Notification.objects.select_for_update().filter(pk=row.pk))
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    # The row is locked before the worker gets to it: its claim waits on the lock, and its backend is cut off there.
    holder = threading.Thread(target=hold_row)
    holder.start()
    try:
        assert holding.wait(10)
        webhook_order.start_worker()
        wait_until(lambda: backends_of("webhook", waiting_on_a_lock=True), 30, "the claim waiting on the lock")
        terminate(backends_of("webhook", waiting_on_a_lock=True))
    finally:
        release.set()
        holder.join(30)
    wait_until(lambda: Notification.objects.filter(pk=row.pk, status="sent").exists(), 60, "sent after the retry")
    row.refresh_from_db()
    assert row.attempts == 1 and len(r.requests) == 1
