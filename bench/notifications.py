"""Outbox delivery throughput on PostgreSQL + Redis with a real Celery worker (a separate process).

Two ways of getting N pending e-mail notifications delivered, in the same run, against the same worker:

1. baseline — plain ``notification_send.delay_on_commit(id)`` for each row, in the transaction that
   writes the rows (what the outbox does when the broker is up);
2. relay — the rows are written with no message at all (as after a broker outage), then the relay
   claims them with SELECT … FOR UPDATE SKIP LOCKED, marks them "sending" and publishes one task each.

Prints notifications/s end to end (commit → every row "sent" in the database) for both, the relay's own
claim-and-publish rate, and the ratio relay ÷ baseline. E-mail goes to Django's locmem backend, so the
figures measure the outbox machinery, not an SMTP server. Not a test: nothing here asserts a time.

    python bench/notifications.py [--rows 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, drop_database, manage, recreate_database  # noqa: E402

DB = "oms_bench_notify"
BROKER = os.environ.get("BENCH_NOTIFY_REDIS", "redis://127.0.0.1:6379/12")


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def start_worker(concurrency: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-P", "threads"]
        + ["-c", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "bench@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_worker(app, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("the Celery worker did not answer a ping")


def make_rows(n: int, order, *, enqueue: bool) -> list[int]:
    from django.db import transaction
    from django.utils import timezone

    from notifications.models import Notification
    from notifications.tasks import notification_send

    now = timezone.now()
    stamp = time.time_ns()
    with transaction.atomic():
        rows = Notification.objects.bulk_create(
            [
                Notification(
                    customer_id=order.customer_id,
                    order=order,
                    event=Notification.Event.MANUAL_UPDATE,
                    channel=Notification.Channel.EMAIL,
                    dedupe_key=f"bench:{stamp}:{i}",
                    recipient="bench@example.com",
                    subject=f"Bench message {i}",
                    body_text="Hello,\n\nThis is a benchmark message.\n",
                    body_html="<p>Hello,</p><p>This is a benchmark message.</p>",
                    next_attempt_at=now,
                    rendered_at=now,
                )
                for i in range(n)
            ],
            batch_size=1000,
        )
        ids = [row.pk for row in rows]
        if enqueue:
            for pk in ids:
                notification_send.delay_on_commit(pk)
    return ids


def wait_sent(ids: list[int], timeout: float = 600) -> None:
    from notifications.models import Notification

    deadline = time.time() + timeout
    while time.time() < deadline:
        if Notification.objects.filter(pk__in=ids).exclude(status="sent").count() == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("not every notification was sent in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
    args = parser.parse_args()

    database_url = recreate_database(DB)
    manage("migrate", "--noinput", env={"DATABASE_URL": database_url, "CELERY_BROKER_URL": BROKER})
    setup_django(database_url)

    from django.conf import settings
    from django.utils import timezone

    from config.celery import app
    from notifications.models import Notification
    from notifications.services import notifications_relay
    from orders.models import Customer, Order

    # Every row is due for the relay at once (no grace period for the commit-time task).
    settings.OMS["NOTIFY_SWEEP_GRACE_SECONDS"] = 0
    customer = Customer.objects.create(external_id="bench", email="bench@example.com", name="Bench")
    order = Order.objects.create(number="SO-BENCH", customer=customer, placed_at=timezone.now())

    from notifications.tasks import notification_send

    app.control.purge()
    # Phase 1, no worker running: how fast rows are handed to the broker.
    ids = make_rows(args.rows, order, enqueue=False)
    start = time.perf_counter()
    published = notifications_relay()
    relay_publish = args.rows / (time.perf_counter() - start)
    assert published == args.rows, published
    start = time.perf_counter()
    for pk in ids:  # exactly what delay_on_commit runs at commit: one delay() per row
        notification_send.delay(pk)
    plain_publish = args.rows / (time.perf_counter() - start)
    # Every row now has two messages in the queue: the worker must send each row once.
    phase1 = ids

    worker = start_worker(args.concurrency)
    try:
        wait_for_worker(app)
        wait_sent(phase1)
        wait_sent(make_rows(50, order, enqueue=True))  # warm-up

        # Phase 2, worker running: end to end, commit (or relay start) → every row "sent".
        start = time.perf_counter()
        ids = make_rows(args.rows, order, enqueue=True)
        wait_sent(ids)
        baseline = args.rows / (time.perf_counter() - start)

        ids = make_rows(args.rows, order, enqueue=False)
        start = time.perf_counter()
        published = notifications_relay()
        wait_sent(ids)
        relay = args.rows / (time.perf_counter() - start)
        assert published == args.rows, published
        extra_attempts = Notification.objects.filter(attempts__gt=1).count()
        phase1_single = Notification.objects.filter(pk__in=phase1, attempts=1, status="sent").count()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        app.control.purge()
        from django.db import connections

        connections.close_all()
        drop_database(DB)

    print(f"rows per run:        {args.rows} e-mail notifications (locmem backend)")
    print(f"worker:              separate process, -P threads -c {args.concurrency}")
    print("handed to the broker (no worker running):")
    print(f"  delay() per row, as delay_on_commit does: {plain_publish:8.0f} rows/s")
    print(f"  relay, SKIP LOCKED claim + one producer:  {relay_publish:8.0f} rows/s")
    print(f"  ratio relay / delay_on_commit:            {relay_publish / plain_publish:8.2f}")
    print("end to end (commit or relay start → every row sent, worker running):")
    print(f"  delay_on_commit per row:                  {baseline:8.0f} notifications/s")
    print(f"  relay:                                    {relay:8.0f} notifications/s")
    print(f"  ratio relay / delay_on_commit:            {relay / baseline:8.2f}")
    print(f"rows needing more than one attempt:         {extra_attempts:8d}")
    print(f"rows published twice (phase 1), sent once: {phase1_single:8d} of {len(phase1)}")


if __name__ == "__main__":
    main()
