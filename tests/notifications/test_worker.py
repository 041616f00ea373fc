"""Behaviour that depends on the broker and a real worker: PostgreSQL + Redis + a Celery worker thread."""

from __future__ import annotations

import threading
import time

import pytest
from celery.signals import task_postrun
from django.core import mail
from django.db import connection, transaction

from config.celery import app
from notifications.models import Notification
from notifications.services import notifications_relay_claim
from notifications.tasks import notification_send, notifications_relay
from orders.models import Order
from tests.notifications.factories import channel_with_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def all_sent():
    return not Notification.objects.exclude(status="sent").exists()


@pytest.mark.worker
def test_broker_down_orders_succeed_and_the_relay_delivers_everything_later(
    make_product, place, customer, receiver, broker_down, live_worker, notify_settings
):
    notify_settings(NOTIFY_SWEEP_GRACE_SECONDS=0)
    r = receiver([200])
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    products = [make_product(stock=0) for _ in range(3)]
    with broker_down():
        orders = [place({p.sku: 2}, customer=customer, channel=shop) for p in products]
    assert app.control.purge() == 0  # nothing reached the broker while it was down
    # Every order committed; its notifications wait in the outbox.
    assert Order.objects.filter(pk__in=[o.pk for o in orders], status="backordered").count() == 3
    assert Notification.objects.filter(status="pending").count() == 6
    assert mail.outbox == [] and r.requests == []

    with live_worker():
        notifications_relay.delay()  # what beat publishes every minute
        wait_until(all_sent, what="every notification sent")
    assert len(mail.outbox) == 3
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"Order {o.number}: {p.name} is on backorder" for o, p in zip(orders, products, strict=True)
    )
    assert len(r.requests) == 3
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.worker
def test_a_task_delivered_twice_sends_once(make_product, place, customer, live_worker):
    finished = []

    def count(sender=None, args=None, **kwargs):
        if sender is notification_send or getattr(sender, "name", "") == notification_send.name:
            finished.append(args[0])

    task_postrun.connect(count, weak=False)
    try:
        with live_worker():
            product = make_product(stock=0)
            place({product.sku: 1}, customer=customer)  # enqueues once, after commit
            notification = Notification.objects.get()
            notification_send.delay(notification.pk)  # and twice more: redelivery
            notification_send.delay(notification.pk)
            wait_until(lambda: finished.count(notification.pk) >= 3, what="three task runs")
    finally:
        task_postrun.disconnect(count)
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 1
    assert len(mail.outbox) == 1


@pytest.mark.worker
def test_receiver_500_then_200_ends_delivered_after_a_retry(
    make_product, place, customer, receiver, live_worker, notify_settings
):
    notify_settings(NOTIFY_RETRY_BASE_SECONDS=0)
    r = receiver([500, 200])
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    with live_worker():
        product = make_product(stock=0)
        place({product.sku: 1}, customer=customer, channel=shop)
        hook = Notification.objects.get(channel="webhook")
        wait_until(lambda: Notification.objects.filter(pk=hook.pk, status="sent").exists(), what="webhook sent")
    hook.refresh_from_db()
    assert hook.attempts == 2 and hook.last_error == ""
    assert len(r.requests) == 2


@pytest.mark.worker
def test_4xx_is_not_retried_by_the_worker(make_product, place, customer, receiver, live_worker, notify_settings):
    notify_settings(NOTIFY_RETRY_BASE_SECONDS=0)
    r = receiver([422])
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    with live_worker():
        product = make_product(stock=0)
        place({product.sku: 1}, customer=customer, channel=shop)
        hook = Notification.objects.get(channel="webhook")
        wait_until(lambda: Notification.objects.filter(pk=hook.pk, status="failed").exists(), what="webhook failed")
        wait_until(all_sent_or_failed, what="e-mail sent")
    assert len(r.requests) == 1
    assert "HTTP 422" in Notification.objects.get(pk=hook.pk).last_error


def all_sent_or_failed():
    return not Notification.objects.filter(status__in=["pending", "sending"]).exists()


def test_relay_claims_with_skip_locked_so_two_relays_never_share_a_row(make_product, place, notify_settings):
    notify_settings(NOTIFY_SWEEP_GRACE_SECONDS=0)
    product = make_product(stock=0)
    for _ in range(6):
        place({product.sku: 1})
    # Eager tasks delivered them at commit; make them look like rows left behind by a broker outage.
    Notification.objects.update(status="pending", sent_at=None, attempts=0)
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    held = ids[:3]
    locked, release = threading.Event(), threading.Event()

    def hold_rows():
        try:
            with transaction.atomic():
                list(Notification.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_rows)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # without SKIP LOCKED this would fail, not hang
        claimed = notifications_relay_claim(batch=100)
    finally:
        release.set()
        holder.join()
    assert sorted(claimed) == ids[3:]
    assert set(Notification.objects.filter(pk__in=claimed).values_list("status", flat=True)) == {"sending"}
    assert set(Notification.objects.filter(pk__in=held).values_list("status", flat=True)) == {"pending"}


@pytest.mark.worker
def test_order_lifecycle_through_the_worker_sends_each_message_once_per_channel(
    make_product, place, customer, receiver, live_worker
):
    from collections import Counter

    from fulfilment.services import order_ship
    from inventory.services import stock_adjust

    r = receiver([200])
    shop, shop_hook = channel_with_webhook(code="shop", url=r.url, secret="k")
    with live_worker():
        product = make_product(stock=0, name="Lamp")
        order = place({product.sku: 2}, customer=customer, channel=shop)
        stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=5, reason="receipt")  # worker allocates
        wait_until(
            lambda: Notification.objects.filter(event="ready", status="sent").count() == 2, what="ready messages"
        )
        order_ship(order=order)
        wait_until(lambda: Notification.objects.filter(event="shipped").count() == 2 and all_sent(), what="shipped")
    counts = Counter(Notification.objects.values_list("event", "channel"))
    assert counts == {
        (event, channel): 1 for event in ("backorder_created", "ready", "shipped") for channel in ("email", "webhook")
    }
    assert sorted(m.subject for m in mail.outbox) == sorted(
        [
            f"Order {order.number}: Lamp is on backorder",
            f"Order {order.number}: Lamp is ready to ship",
            f"Order {order.number}: Lamp has shipped",
        ]
    )
    assert sorted(req["headers"]["X-Event"] for req in r.requests) == ["backorder_created", "ready", "shipped"]
