"""The webhook endpoint's circuit breaker and in-flight cap (notifications/services/endpoints.py), through
notification_deliver against a local receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.delivery import notification_deliver
from notifications.models import Notification, WebhookEndpointHealth
from notifications.services.endpoints import breaker_cooldown
from tests.notifications.factories import channel_with_webhook
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks(make_product, place, receiver, notify_settings):
    """n webhook rows to one shop whose receiver answers ``statuses``."""
    notify_settings(
        NOTIFY_BREAKER_FAILURES=2,
        NOTIFY_BREAKER_COOLDOWN_SECONDS=30,
        NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS=100,
        NOTIFY_RETRY_BASE_SECONDS=0,
        NOTIFY_ENDPOINT_MAX_IN_FLIGHT=2,
    )

    def make(n: int, statuses=(200,)):
        r = receiver(list(statuses))
        shop, _ = channel_with_webhook(code="shop", url=r.url, secret="k")
        product = make_product(stock=0)
        for _ in range(n):
            place({product.sku: 1}, customer=CustomerFactory(channel=shop, email=""), channel=shop)
        return r, shop, list(Notification.objects.filter(channel="webhook").order_by("pk"))

    return make


def test_the_breaker_opens_after_n_failures_and_rows_wait_without_using_an_attempt(hooks):
    r, shop, (a, b, c) = hooks(3, statuses=[503])
    assert notification_deliver(notification_id=a.pk) == "pending"
    assert notification_deliver(notification_id=b.pk) == "pending"
    health = WebhookEndpointHealth.objects.get(endpoint__channel=shop)
    assert health.consecutive_failures == 2 and health.open_until is not None
    assert (health.open_until - health.last_failure_at) == timedelta(seconds=30)

    before = timezone.now()
    assert notification_deliver(notification_id=c.pk) == "deferred"
    c.refresh_from_db()
    assert (c.status, c.attempts, c.next_attempt_at) == ("pending", 0, health.open_until)
    assert c.next_attempt_at > before and len(r.requests) == 2 and not c.attempt_log.exists()


def test_half_open_one_probe_its_success_closes_its_failure_doubles_the_cooldown(hooks):
    r, shop, (a, b) = hooks(2, statuses=[503, 503, 503, 200])
    notification_deliver(notification_id=a.pk)
    notification_deliver(notification_id=b.pk)
    WebhookEndpointHealth.objects.filter(endpoint__channel=shop).update(open_until=timezone.now())  # cool-down over
    Notification.objects.update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=a.pk) == "pending"  # the probe fails: open twice as long
    health = WebhookEndpointHealth.objects.get(endpoint__channel=shop)
    assert health.consecutive_failures == 3
    assert health.open_until - health.last_failure_at == timedelta(seconds=60)

    WebhookEndpointHealth.objects.filter(endpoint__channel=shop).update(open_until=timezone.now())
    Notification.objects.update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=b.pk) == "sent"  # the probe succeeds: closed
    health.refresh_from_db()
    assert (health.consecutive_failures, health.open_until) == (0, None)
    assert notification_deliver(notification_id=a.pk) == "sent"


def test_cooldown_doubles_and_is_capped(notify_settings):
    notify_settings(
        NOTIFY_BREAKER_FAILURES=5, NOTIFY_BREAKER_COOLDOWN_SECONDS=30, NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS=100
    )
    assert [breaker_cooldown(consecutive_failures=n) for n in (5, 6, 7, 8, 50)] == [30, 60, 100, 100, 100]


def test_a_4xx_answer_closes_the_breaker_and_a_new_url_starts_afresh(hooks, receiver):
    r, shop, (a, b, c) = hooks(3, statuses=[503, 422])
    notification_deliver(notification_id=a.pk)
    assert WebhookEndpointHealth.objects.get(endpoint__channel=shop).consecutive_failures == 1
    notification_deliver(notification_id=b.pk)  # 422: the endpoint is up, the message refused
    assert WebhookEndpointHealth.objects.get(endpoint__channel=shop).consecutive_failures == 0

    WebhookEndpointHealth.objects.filter(endpoint__channel=shop).update(
        consecutive_failures=9, open_until=timezone.now() + timedelta(hours=1)
    )
    hook = shop.webhook_endpoints.get()
    hook.url = receiver([200]).url
    hook.save()
    assert notification_deliver(notification_id=c.pk) == "sent"
    health = WebhookEndpointHealth.objects.get(endpoint=hook)
    assert (health.url, health.consecutive_failures, health.open_until) == (hook.url, 0, None)


def test_an_endpoint_with_max_sends_in_flight_makes_further_rows_wait(hooks):
    r, shop, (a, b, c) = hooks(3)
    lease = timezone.now() + timedelta(seconds=10)
    Notification.objects.filter(pk__in=[a.pk, b.pk]).update(status="sending", sending_until=lease)  # two in flight
    assert notification_deliver(notification_id=c.pk) == "deferred"
    c.refresh_from_db()
    assert c.attempts == 0 and c.status == "pending"
    assert timedelta(seconds=1.4) < c.next_attempt_at - timezone.now() < timedelta(seconds=4)
    assert r.requests == []
