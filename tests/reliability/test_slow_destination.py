"""One slow destination cannot hold up everyone else (issue 12).

Real worker processes, one per queue as in production (docs/operations.md), on PostgreSQL and Redis.
One storefront's webhook receiver hangs (it answers after 30 s; our deadline is 5 s per attempt). Its ten orders are
placed first, then a healthy storefront's and e-mail-only orders: the healthy storefront's webhooks and every e-mail
arrive within the normal time, not after the hanging receiver's deadlines; the hanging endpoint's breaker opens and
its rows wait for it to half-open without using their attempts.
"""

from __future__ import annotations

import time

import pytest

from notifications.models import Notification, WebhookEndpointHealth
from tests.notifications.factories import channel_with_webhook
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A generous bound: on this 2-core shared machine a healthy message takes well under a second end to end. Behind
# the hanging receiver (10 rows × 5 s deadline, several per worker slot, plus retries) it would take 25 s or more.
NORMAL_TIME = 10.0
BREAKER_FAILURES = 3
MAX_IN_FLIGHT = 2


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def test_a_hanging_webhook_receiver_delays_no_other_storefront_and_no_email(
    worker_processes, receiver, make_product, place
):
    env = {
        "OMS_NOTIFY_WEBHOOK_TIMEOUT_SECONDS": "5",
        "OMS_NOTIFY_BREAKER_FAILURES": str(BREAKER_FAILURES),
        "OMS_NOTIFY_BREAKER_COOLDOWN_SECONDS": "60",
        "OMS_NOTIFY_ENDPOINT_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
        "OMS_NOTIFY_RETRY_BASE_SECONDS": "1",
    }
    # The deployment of docs/operations.md, scaled down: a worker per queue.
    worker_processes("default", "-Q", "celery", "-c", "1", "--pool", "solo", env=env)
    worker_processes("email", "-Q", "notifications.email", "-c", "2", "--pool", "threads", env=env)
    worker_processes("webhook", "-Q", "notifications.webhook", "-c", "4", "--pool", "threads", env=env)
    worker_processes.wait_ready()

    hanging = receiver([200], delay=30)
    healthy = receiver([200])
    slow_shop, slow_shop_hook = channel_with_webhook(code="slow-shop", url=hanging.url, secret="k1")
    good_shop, good_shop_hook = channel_with_webhook(code="good-shop", url=healthy.url, secret="k2")
    product = make_product(stock=0)

    started = time.monotonic()
    for _ in range(10):
        place({product.sku: 1}, customer=CustomerFactory(channel=slow_shop), channel=slow_shop)
    good_orders = [
        place({product.sku: 1}, customer=CustomerFactory(channel=good_shop), channel=good_shop) for _ in range(5)
    ]
    direct_orders = [place({product.sku: 1}, customer=CustomerFactory()) for _ in range(3)]

    others = Notification.objects.exclude(channel="webhook", order__channel=slow_shop)
    assert others.count() == 5 * 2 + 10 + 3  # good shop: webhook + e-mail; slow shop's customers and direct: e-mail
    wait_until(lambda: not others.exclude(status="sent").exists(), NORMAL_TIME, "the other storefront and e-mails")
    elapsed = time.monotonic() - started
    assert len(healthy.requests) == 5
    assert {r["headers"]["X-Notification-Id"] for r in healthy.requests} == set(
        Notification.objects.filter(order__in=good_orders, channel="webhook").values_list("dedupe_key", flat=True)
    )
    assert Notification.objects.filter(order__in=direct_orders, status="sent").count() == 3

    # The hanging endpoint's breaker opens; its rows wait for it, without spending their attempts.
    wait_until(
        lambda: WebhookEndpointHealth.objects.filter(endpoint=slow_shop_hook, open_until__isnull=False).exists(),
        4 * 5 + 10,
        "the hanging endpoint's breaker to open",
    )
    health = WebhookEndpointHealth.objects.get(endpoint=slow_shop_hook)
    assert health.consecutive_failures >= BREAKER_FAILURES
    slow_rows = Notification.objects.filter(channel="webhook", order__channel=slow_shop)
    assert not slow_rows.filter(status__in=["sent", "failed"]).exists()
    attempts = sum(slow_rows.values_list("attempts", flat=True))
    # Only the sends that made the breaker open were attempted (at most MAX_IN_FLIGHT at a time): not 10 × retries.
    assert attempts <= BREAKER_FAILURES + MAX_IN_FLIGHT
    assert len(hanging.requests) == 0 or len(hanging.requests) <= attempts
    cooldown = (health.open_until - health.last_failure_at).total_seconds()
    print(
        f"\nother storefront + e-mails all sent {elapsed:.1f} s after the first order; hanging endpoint: "
        f"{health.consecutive_failures} failures, open for {cooldown:.0f} s, {attempts} attempts over its 10 rows"
    )
