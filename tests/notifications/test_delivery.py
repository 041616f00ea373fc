"""Delivery of one row: idempotence, webhook signature, retries with backoff, 4xx not retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.delivery import notification_deliver, retry_delay
from notifications.models import Notification
from notifications.services import notification_retry
from tests.notifications.factories import channel_with_webhook

pytestmark = pytest.mark.django_db


def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's recipe from docs/notifications.md, copied verbatim."""
    timestamp = headers["X-Signature-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Signature"])


@pytest.fixture
def webhook_order(make_product, place, customer, receiver):
    """An order through a shop whose webhook is a local receiver; returns (receiver, shop, webhook row)."""

    def make(statuses=(200,)):
        r = receiver(statuses)
        shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="whsec_test_123")
        product = make_product(stock=0)
        place({product.sku: 1}, customer=customer, channel=shop)
        return r, shop, Notification.objects.get(channel="webhook")

    return make


def test_delivering_twice_sends_once(make_product, place, customer):
    product = make_product(stock=0)
    place({product.sku: 1}, customer=customer)
    notification = Notification.objects.get()
    assert notification_deliver(notification_id=notification.pk) == "sent"
    assert notification_deliver(notification_id=notification.pk) == "sent"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1


def test_webhook_signature_verifies_with_the_documented_recipe(webhook_order):
    r, shop, notification = webhook_order()
    assert notification_deliver(notification_id=notification.pk) == "sent"
    [request] = r.requests
    headers, body = request["headers"], request["body"]
    assert verify("whsec_test_123", headers, body)
    assert not verify("another-secret", headers, body)
    assert not verify("whsec_test_123", headers, body.replace(b"backorder_created", b"shipped"))
    assert headers["X-Notification-Id"] == notification.dedupe_key
    notification.refresh_from_db()  # rendered and stored before the first attempt: what was sent is kept
    assert json.loads(body) == notification.payload
    assert notification.payload["event"] == "backorder_created" and notification.rendered_at is not None


def test_5xx_is_retried_with_backoff_then_delivered(webhook_order, notify_settings):
    notify_settings(NOTIFY_RETRY_BASE_SECONDS=30, NOTIFY_MAX_ATTEMPTS=5)
    r, _, notification = webhook_order([500, 200])
    before = timezone.now()
    assert notification_deliver(notification_id=notification.pk) == "pending"
    notification.refresh_from_db()
    assert notification.attempts == 1 and "HTTP 500" in notification.last_error
    assert notification.next_attempt_at >= before + timedelta(seconds=30)
    # Not due yet: an early message does nothing.
    assert notification_deliver(notification_id=notification.pk) == "not_due"
    assert len(r.requests) == 1
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=notification.pk) == "sent"
    notification.refresh_from_db()
    assert notification.attempts == 2 and notification.last_error == "" and len(r.requests) == 2
    assert r.requests[0]["body"] == r.requests[1]["body"]  # rendered once: a retry sends the same message


def test_4xx_is_not_retried(webhook_order):
    r, _, notification = webhook_order([410])
    assert notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.attempts == 1 and "HTTP 410" in notification.last_error
    assert notification_deliver(notification_id=notification.pk) == "failed"
    assert len(r.requests) == 1


def test_unreachable_receiver_fails_after_the_last_attempt(make_product, place, customer, notify_settings):
    notify_settings(NOTIFY_MAX_ATTEMPTS=2, NOTIFY_RETRY_BASE_SECONDS=0)
    shop, shop_hook = channel_with_webhook(code="shop", url="http://127.0.0.1:1/hook", secret="x")
    product = make_product(stock=0)
    place({product.sku: 1}, customer=customer, channel=shop)
    notification = Notification.objects.get(channel="webhook")
    assert notification_deliver(notification_id=notification.pk) == "pending"
    assert notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.attempts == 2 and notification.last_error.startswith("Gave up after 2 attempts")

    # Staff retry: a fresh set of automatic attempts counted from here; the history of the earlier ones stays.
    notification_retry(notification=notification)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.attempts_before_retry) == ("pending", 2, 2)
    assert notification_deliver(notification_id=notification.pk) == "pending"
    assert notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.attempts == 4 and notification.last_error.startswith("Gave up after 4 attempts")
    log = list(notification.attempt_log.order_by("number"))
    assert [(a.number, a.outcome, a.error) for a in log] == [
        (n, "temporary_failure", "Webhook not reachable") for n in (1, 2, 3, 4)
    ]
    assert all(a.finished_at >= a.started_at and a.duration_ms is not None and a.status_code is None for a in log)


def test_every_attempt_is_logged_with_the_receivers_status_code(webhook_order, notify_settings):
    notify_settings(NOTIFY_RETRY_BASE_SECONDS=0)
    _, _, notification = webhook_order([503, 200])
    notification_deliver(notification_id=notification.pk)
    notification_deliver(notification_id=notification.pk)
    assert [(a.number, a.outcome, a.status_code, a.error) for a in notification.attempt_log.order_by("number")] == [
        (1, "temporary_failure", 503, "Webhook answered HTTP 503"),
        (2, "sent", 200, ""),
    ]


def test_an_attempt_whose_worker_died_is_marked_lost_when_the_row_is_sent_again(make_product, place, customer):
    product = make_product(stock=0)
    place({product.sku: 1}, customer=customer)
    notification = Notification.objects.get()
    # As if a worker had claimed attempt 2 and died: its lease ran out.
    notification.attempt_log.create(number=2, started_at=notification.created_at)
    Notification.objects.filter(pk=notification.pk).update(status="sending", attempts=2, sent_at=None)
    assert notification_deliver(notification_id=notification.pk) == "sent"
    assert list(notification.attempt_log.order_by("number").values_list("number", "outcome")) == [
        (2, "lost"),
        (3, "sent"),
    ]


def test_retry_of_a_sent_notification_is_refused(make_product, place):
    from core.errors import InvalidTransition

    product = make_product(stock=0)
    place({product.sku: 1})
    notification = Notification.objects.get()
    notification_deliver(notification_id=notification.pk)
    with pytest.raises(InvalidTransition):
        notification_retry(notification=notification)


def test_backoff_is_exponential_and_capped(notify_settings):
    notify_settings(NOTIFY_RETRY_BASE_SECONDS=30, NOTIFY_RETRY_MAX_SECONDS=600)
    assert [retry_delay(n) for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


def test_a_receiver_that_times_out_is_retried(make_product, place, customer, receiver, notify_settings):
    notify_settings(NOTIFY_WEBHOOK_TIMEOUT_SECONDS=0.3)
    r = receiver([200], delay=1.0)
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    product = make_product(stock=0)
    place({product.sku: 1}, customer=customer, channel=shop)
    notification = Notification.objects.get(channel="webhook")
    assert notification_deliver(notification_id=notification.pk) == "pending"
    notification.refresh_from_db()
    assert notification.attempts == 1 and "timed out" in notification.last_error
