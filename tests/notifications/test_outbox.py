"""Outbox rows: which events notify, one row per channel, dedupe, preferences, rendered content."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from backorders.allocation import backorders_allocate
from backorders.models import Backorder, BackorderEvent
from backorders.services import backorder_event_record
from fulfilment.services import order_cancel, order_ship
from inventory.services import stock_adjust
from notifications.models import Incentive, Notification
from notifications.services import (
    incentives_grant_due,
    notification_manual_update,
    notification_preference_set,
    notifications_from_backorder_events,
    notifications_regular_updates,
)
from tests.notifications.factories import WebhookEndpointFactory, rendered, substitute_link
from tests.orders.factories import SalesChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    channel = SalesChannelFactory(code="shop")
    WebhookEndpointFactory(channel=channel, url="https://shop.example.com/hooks", secret="s3cret")
    return channel


def rows(**filters):
    return list(Notification.objects.filter(**filters).order_by("pk"))


def per_event_channel():
    return Counter(Notification.objects.values_list("event", "channel"))


def test_order_with_two_short_lines_writes_one_created_message_per_channel(make_product, place, customer, shop):
    kettle = make_product(stock=1, name="Kettle")
    mug = make_product(stock=0, name="Mug")
    teapot = make_product(stock=0, name="Teapot")
    order = place({kettle.sku: 3, mug.sku: 2, teapot.sku: 1}, customer=customer, channel=shop)

    assert per_event_channel() == {("backorder_created", "email"): 1, ("backorder_created", "webhook"): 1}
    email = rendered(Notification.objects.get(channel="email"))
    assert email.order == order and email.customer == customer and email.backorder is None
    assert email.status == "pending" and email.recipient == customer.email
    assert email.subject == f"Order {order.number}: 3 items are on backorder"
    # What ships now and what waits, and that there is no date yet.
    assert "Shipping now:\n- 1 x Kettle" in email.body_text
    assert "- 2 x Kettle" in email.body_text and "- 2 x Mug" in email.body_text and "- 1 x Teapot" in email.body_text
    assert "we will confirm a date as soon as we have one" in email.body_text
    assert "<h3>Waiting for stock</h3>" in email.body_html

    hook = rendered(Notification.objects.get(channel="webhook"))
    assert hook.recipient == shop.webhook_endpoints.get().url == "https://shop.example.com/hooks"
    assert hook.payload["event"] == "backorder_created"
    assert hook.payload["id"] == hook.dedupe_key
    assert hook.payload["order"] == {"id": order.pk, "number": order.number, "status": "backordered"}
    assert hook.payload["shipping_now"] == [{"sku": kettle.sku, "name": "Kettle", "quantity": 1}]
    assert sorted((i["sku"], i["waiting"], i["eta"]) for i in hook.payload["items"]) == sorted(
        [(kettle.sku, 2, None), (mug.sku, 2, None), (teapot.sku, 1, None)]
    )


def test_in_stock_order_sends_nothing(make_product, place):
    product = make_product(stock=5)
    place({product.sku: 2})
    assert not Notification.objects.exists()


def test_alternatives_in_stock_are_offered(make_product, place, customer):
    wanted = make_product(stock=0, name="Blue kettle")
    in_stock = make_product(stock=4, name="Red kettle")
    sold_out = make_product(stock=0, name="Green kettle")
    substitute_link(wanted, in_stock, sold_out)
    place({wanted.sku: 1}, customer=customer)
    email = rendered(Notification.objects.get())
    assert f"Red kettle ({in_stock.sku}), 4 available" in email.body_text
    assert "Green kettle" not in email.body_text


def test_every_event_produces_exactly_one_notification_per_channel(
    make_product, place, customer, shop, staff_user, django_capture_on_commit_callbacks
):
    product = make_product(stock=0, name="Lamp")
    order = place({product.sku: 2}, customer=customer, channel=shop)
    backorder = Backorder.objects.get()

    # ETA: first date confirmed, then later by 5 days.
    for old, new in [(None, "2030-01-10"), ("2030-01-10", "2030-01-15")]:
        backorder_event_record(
            backorder=backorder, kind="eta_changed", data={"old": old, "new": new, "basis": "purchase_order"}
        )
    notification_manual_update(backorder=backorder, note="Your lamp is on the truck.", user=staff_user)
    # Stock arrives: the backorder is allocated (ready), then shipped.
    stock_adjust(sku=product.sku, warehouse_code="MAIN", quantity=2, reason="receipt")
    with django_capture_on_commit_callbacks(execute=True):  # on PostgreSQL "ready" is written after commit
        backorders_allocate(product_id=product.pk)
    order_ship(order=order)
    # A second order is cancelled while it waits.
    second = place({product.sku: 1}, customer=customer, channel=shop)
    order_cancel(order=second, reason="changed my mind")
    # Internal events notify nobody.
    backorder_event_record(backorder=Backorder.objects.get(order=second), kind="note", message="internal")

    counts = per_event_channel()
    for event in ["backorder_created", "manual_update", "ready", "shipped", "cancelled"]:
        expected = 2 if event == "backorder_created" else 1
        assert counts[(event, "email")] == expected, event
        assert counts[(event, "webhook")] == expected, event
    assert counts[("eta_changed", "email")] == 2 and counts[("eta_changed", "webhook")] == 2
    assert sum(counts.values()) == 2 * (2 + 2 + 1 + 1 + 1 + 1)

    cancelled = rendered(Notification.objects.get(event="cancelled", channel="email"))
    assert "You will not be charged for the cancelled items" in cancelled.body_text
    assert "changed my mind" in cancelled.body_text
    shipped = rendered(Notification.objects.get(event="shipped", channel="webhook"))
    assert shipped.payload["items"][0]["quantity"] == 2
    manual = rendered(Notification.objects.get(event="manual_update", channel="email"))
    assert "Your lamp is on the truck." in manual.body_text and manual.backorder == backorder
    later = rendered(Notification.objects.filter(event="eta_changed", channel="email").order_by("pk").last())
    assert "coming later than we said: Tuesday 15 January 2030 instead of Thursday 10 January 2030" in later.body_text


@pytest.mark.parametrize(
    ("old", "new", "notifies"),
    [
        ("2030-01-10", "2030-01-11", False),  # later by 1 day: within the default threshold
        ("2030-01-10", "2030-01-12", True),  # later by 2 days
        ("2030-01-10", "2030-01-09", True),  # earlier, by any amount
        (None, "2030-01-10", True),  # a first date
        ("2030-01-10", None, True),  # the date no longer holds
        ("2030-01-10", "2030-01-10", False),
        (None, str(date.today()), False),  # stock is here: "ready" follows, not a date of today
    ],
)
def test_eta_change_threshold(make_product, place, old, new, notifies):
    product = make_product(stock=0)
    place({product.sku: 1})
    backorder = Backorder.objects.get()
    backorder_event_record(backorder=backorder, kind="eta_changed", data={"old": old, "new": new, "basis": "lead_time"})
    assert Notification.objects.filter(event="eta_changed").count() == (1 if notifies else 0)


def test_eta_threshold_is_configurable(make_product, place, notify_settings):
    notify_settings(NOTIFY_ETA_CHANGE_THRESHOLD_DAYS=5)
    product = make_product(stock=0)
    place({product.sku: 1})
    backorder = Backorder.objects.get()
    backorder_event_record(backorder=backorder, kind="eta_changed", data={"old": "2030-01-10", "new": "2030-01-14"})
    assert not Notification.objects.filter(event="eta_changed").exists()
    backorder_event_record(backorder=backorder, kind="eta_changed", data={"old": "2030-01-14", "new": "2030-01-20"})
    assert Notification.objects.filter(event="eta_changed").count() == 1


def test_the_same_event_never_produces_two_notifications(make_product, place):
    product = make_product(stock=0)
    place({product.sku: 1})
    event = BackorderEvent.objects.get(kind="created")
    notifications_from_backorder_events(events=[event])
    notifications_from_backorder_events(events=[event])
    assert Notification.objects.count() == 1


def _age(backorder, days):
    Backorder.objects.filter(pk=backorder.pk).update(placed_at=timezone.now() - timedelta(days=days))


def test_regular_update_once_per_period_and_opt_out_respected(make_product, place, customer):
    product = make_product(stock=0, name="Chair")
    place({product.sku: 1}, customer=customer)
    other_customer_order = place({product.sku: 1})
    notification_preference_set(customer=other_customer_order.customer, regular_updates=False)
    backorders = list(Backorder.objects.order_by("pk"))
    for backorder in backorders:
        _age(backorder, 8)

    assert notifications_regular_updates() == 1
    assert notifications_regular_updates() == 0  # the same period: nothing new
    update = rendered(Notification.objects.get(event="regular_update"))
    assert update.customer == customer and update.backorder == backorders[0]
    assert "still on backorder (8 days so far)" in update.body_text

    # Opted out of regular updates, but essential messages still go out.
    order_cancel(order=other_customer_order)
    assert Notification.objects.filter(customer=other_customer_order.customer, event="cancelled").count() == 1
    assert not Notification.objects.filter(customer=other_customer_order.customer, event="regular_update").exists()


def test_regular_update_not_before_the_interval(make_product, place):
    product = make_product(stock=0)
    place({product.sku: 1})
    _age(Backorder.objects.get(), 6)
    assert notifications_regular_updates() == 0


def test_long_delay_incentive_is_generated_once(make_product, place, customer, notify_settings):
    notify_settings(NOTIFY_LONG_DELAY_DAYS=21, NOTIFY_INCENTIVE_PERCENT=10, NOTIFY_INCENTIVE_MAX_AMOUNT=50)
    product = make_product(stock=0, name="Sofa", unit_price="120.00")
    place({product.sku: 2}, customer=customer)
    backorder = Backorder.objects.get()
    assert incentives_grant_due() == 0
    _age(backorder, 22)
    assert incentives_grant_due() == 1
    assert incentives_grant_due() == 0
    incentive = Incentive.objects.get()
    assert incentive.backorder == backorder and incentive.kind == "discount_code"
    assert str(incentive.amount) == "24.00"  # 10 % of 2 x 120
    message = rendered(Notification.objects.get(event="incentive"))
    assert incentive.code in message.body_text and "24.00 EUR" in message.body_text


def test_eta_slipping_past_the_long_delay_grants_the_incentive(make_product, place, notify_settings):
    notify_settings(NOTIFY_LONG_DELAY_DAYS=21)
    product = make_product(stock=0)
    place({product.sku: 1})
    backorder = Backorder.objects.get()
    far = (timezone.now() + timedelta(days=40)).date()
    Backorder.objects.filter(pk=backorder.pk).update(eta=far)
    backorder.refresh_from_db()
    backorder_event_record(backorder=backorder, kind="eta_changed", data={"old": None, "new": far.isoformat()})
    assert Incentive.objects.filter(backorder=backorder).count() == 1
    assert Notification.objects.filter(event="incentive").count() == 1


def test_preferred_channel_webhook_replaces_email_only_when_the_shop_has_a_webhook(make_product, place, customer, shop):
    notification_preference_set(customer=customer, preferred_channel="webhook")
    product = make_product(stock=0)
    place({product.sku: 1}, customer=customer, channel=shop)
    assert [n.channel for n in rows()] == ["webhook"]
    place({product.sku: 1}, customer=customer)  # no channel, no webhook: e-mail after all
    assert sorted(n.channel for n in rows()) == ["email", "webhook"]


def test_manual_update_needs_a_note_and_writes_nothing_without(make_product, place, staff_user):
    from core.errors import InvalidInput

    product = make_product(stock=0)
    place({product.sku: 1})
    backorder = Backorder.objects.get()
    before = Notification.objects.count()
    with pytest.raises(InvalidInput):
        notification_manual_update(backorder=backorder, note="   ", user=staff_user)
    assert Notification.objects.count() == before
    assert not BackorderEvent.objects.filter(kind="note").exists()


def test_sent_email_uses_the_real_templates(make_product, place, customer, django_capture_on_commit_callbacks):
    product = make_product(stock=0, name="Desk")
    with django_capture_on_commit_callbacks(execute=True):
        order = place({product.sku: 1}, customer=customer)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer.email]
    assert message.subject == f"Order {order.number}: Desk is on backorder"
    assert f"Hello {customer.name}," in message.body
    assert "1 x Desk" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<strong>" + order.number + "</strong>" in html
    notification = Notification.objects.get()
    assert notification.status == "sent" and notification.attempts == 1 and notification.sent_at is not None


def test_eta_text_in_plain_words(make_product, place):
    product = make_product(stock=0)
    place({product.sku: 1})
    backorder = Backorder.objects.get()
    backorder_event_record(backorder=backorder, kind="eta_changed", data={"old": None, "new": str(date(2030, 3, 1))})
    message = rendered(Notification.objects.get(event="eta_changed", channel="email"))
    assert "we now have a date: Friday 1 March 2030." in message.body_text
