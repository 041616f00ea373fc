"""auto_cancel_after_days: waiting units past the customer's terms are cancelled (terms_expired), once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from backorders.models import Backorder, BackorderEvent
from fulfilment.services import backorders_cancel_expired
from inventory.models import StockItem
from notifications.models import Notification
from orders.models import CustomerTerms, OrderLine

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def thirty_day_order(make_product, place, customer):
    product = make_product(sku="A-1", stock=1)
    CustomerTerms.objects.create(customer=customer, auto_cancel_after_days=30)
    order = place({"A-1": 3}, customer=customer)
    return order, product


def test_a_30_day_term_keeps_day_29_and_cancels_on_day_30(thirty_day_order):
    order, product = thirty_day_order
    backorder = Backorder.objects.get(order=order)
    assert backorders_cancel_expired(now=order.placed_at + timedelta(days=29, hours=23)) == 0
    backorder.refresh_from_db()
    assert backorder.status == "open" and backorder.quantity_outstanding == 2

    assert backorders_cancel_expired(now=order.placed_at + timedelta(days=30)) == 1
    backorder.refresh_from_db()
    line = OrderLine.objects.get(order=order)
    assert (backorder.status, backorder.quantity_cancelled) == ("cancelled", 2)
    # Only the waiting units go; the reserved unit stays reserved (stock untouched).
    assert (line.quantity_allocated, line.quantity_backordered, line.quantity_cancelled) == (1, 0, 2)
    assert StockItem.objects.get(product=product).allocated == 1
    event = backorder.events.get(kind=BackorderEvent.Kind.CANCELLED)
    assert event.data["reason"] == "terms_expired" and event.actor == "system"
    assert Notification.objects.filter(order=order, event="cancelled").count() == 1


def test_running_twice_changes_nothing(thirty_day_order):
    order, _ = thirty_day_order
    later = order.placed_at + timedelta(days=31)
    assert backorders_cancel_expired(now=later) == 1
    events = BackorderEvent.objects.count()
    notifications = Notification.objects.count()
    assert backorders_cancel_expired(now=later) == 0
    assert (BackorderEvent.objects.count(), Notification.objects.count()) == (events, notifications)


def test_channel_default_applies_unless_the_customer_has_own_terms(make_product, place, customer, channel_key):
    channel = channel_key[0]
    make_product(sku="A-1", stock=0)
    CustomerTerms.objects.create(channel=channel, auto_cancel_after_days=10)
    order = place({"A-1": 1}, customer=customer, channel=channel)
    assert backorders_cancel_expired(now=order.placed_at + timedelta(days=10)) == 1

    own = place({"A-1": 1}, customer=customer, channel=channel)
    CustomerTerms.objects.create(customer=customer, auto_cancel_after_days=None)  # replaces the default: no limit
    assert backorders_cancel_expired(now=own.placed_at + timedelta(days=100)) == 0
    assert Backorder.objects.get(order=own).status == "open"


def test_every_beat_entry_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
    assert "fulfilment.tasks.terms_auto_cancel" in app.tasks
    assert "backorders.tasks.sla_sweep" in app.tasks
