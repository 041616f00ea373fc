"""Rows claimed by a relay or a worker that died are offered again after a bounded time — the lease, i.e. the
delivery's total deadline plus a margin — and never sent twice at once (issue 12). Worker processes on the test
database and Redis; the relays run in this process (as beat's task would, twice at once)."""

from __future__ import annotations

import threading
import time
from email import message_from_bytes

import pytest
from django.db import connections

from config.celery import app
from notifications.models import Notification
from notifications.services import notifications_relay
from tests.notifications.factories import channel_with_webhook
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    pytest.fail(f"gave up waiting for {what}")


def emails_sent(directory) -> list[str]:
    """X-Notification-Id of every e-mail the file backend wrote (one file per message)."""
    ids = []
    for path in directory.iterdir():
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                ids.append(message_from_bytes(chunk.strip()).get("X-Notification-Id"))
    return ids


def test_two_relays_racing_on_the_same_rows_send_each_row_once(
    worker_processes, receiver, make_product, place, settings, tmp_path
):
    settings.OMS = {**settings.OMS, "NOTIFY_SWEEP_GRACE_SECONDS": 0, "NOTIFY_RELAY_BATCH": 7}
    r = receiver([200])
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    product = make_product(stock=0)
    for _ in range(30):
        place({product.sku: 1}, customer=CustomerFactory(channel=shop), channel=shop)
    app.control.purge()  # the commit-time messages are lost: every row waits for the relay
    rows = Notification.objects.all()
    assert rows.count() == 60 and not rows.exclude(status="pending").exists()

    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(mail_dir)}
    worker_processes("email", "-Q", "notifications.email", "-c", "2", "--pool", "threads", env=env)
    worker_processes("webhook", "-Q", "notifications.webhook", "-c", "4", "--pool", "threads", env=env)
    worker_processes.wait_ready()

    barrier = threading.Barrier(2)
    published = []

    def relay():
        try:
            barrier.wait(10)
            published.append(notifications_relay(batch=7))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(published) == 60  # the two relays shared the rows: none claimed twice

    wait_until(lambda: not rows.exclude(status="sent").exists(), 60, "every row sent")
    hooks = [req["headers"]["X-Notification-Id"] for req in r.requests]
    mails = emails_sent(mail_dir)
    assert len(hooks) == len(set(hooks)) == 30
    assert len(mails) == len(set(mails)) == 30
    assert set(rows.values_list("attempts", flat=True)) == {1}


def test_a_row_claimed_by_a_killed_worker_is_sent_again_once_its_lease_runs_out(
    worker_processes, receiver, make_product, place, settings
):
    settings.OMS = {**settings.OMS, "NOTIFY_SWEEP_GRACE_SECONDS": 0}
    timeout, margin = 3, 2  # the lease: 3 s webhook deadline + 2 s margin
    env = {"OMS_NOTIFY_WEBHOOK_TIMEOUT_SECONDS": str(timeout), "OMS_NOTIFY_LEASE_MARGIN_SECONDS": str(margin)}
    r = receiver([200], delay=2)  # slow enough to kill the worker mid-send
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    customer = CustomerFactory(channel=shop, email="")  # webhook only
    doomed = worker_processes("doomed", "-Q", "notifications.webhook", "--pool", "solo", env=env)
    worker_processes.wait_ready()

    place({make_product(stock=0).sku: 1}, customer=customer, channel=shop)
    row = Notification.objects.get()
    wait_until(lambda: Notification.objects.filter(pk=row.pk, sending_until__isnull=False).exists(), 30, "the claim")
    doomed.kill()  # mid-send: the lease stays, the message is not acknowledged (Redis gives it back only in 1 h)
    row.refresh_from_db()
    claimed_at, lease_ends = row.claimed_at, row.sending_until
    assert (lease_ends - claimed_at).total_seconds() == timeout + margin

    worker_processes("rescuer", "-Q", "notifications.webhook", "--pool", "solo", env=env)
    worker_processes.wait_ready()
    # Beat's relay, run every 0.5 s here instead of every minute: it offers the row once the lease has run out.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not Notification.objects.filter(pk=row.pk, status="sent").exists():
        notifications_relay()
        time.sleep(0.5)
    row.refresh_from_db()
    assert row.status == "sent"
    resent_after = (row.sent_at - claimed_at).total_seconds()
    # Not before the lease ended (never two sends at once), and soon after it (bounded by the relay's period).
    assert row.sent_at >= lease_ends
    assert resent_after < timeout + margin + 10
    assert list(row.attempt_log.order_by("number").values_list("number", "outcome")) == [(1, "lost"), (2, "sent")]
    # The receiver saw the dead worker's request too (it answered after the worker died): same id, to drop.
    assert {req["headers"]["X-Notification-Id"] for req in r.requests} == {row.dedupe_key}
    print(f"\nre-sent {resent_after:.1f} s after the dead worker's claim (lease {timeout + margin} s)")
