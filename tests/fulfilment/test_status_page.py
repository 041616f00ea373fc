"""The customer's status page /s/<signed token>: no login, this order only, actions through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from backorders.models import Backorder, BackorderEvent
from notifications.models import Notification, NotificationPreference
from notifications.rendering import notification_render
from orders.models import Order, OrderLine
from orders.status_links import SALT, order_status_path
from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def order(make_product, place, customer):
    make_product(sku="LAMP", stock=1, name="Desk lamp")
    shelf = make_product(sku="SHELF", stock=0, name="Oak shelf")
    shelf.substitutes.add(make_product(sku="SHELF-XL", stock=9, name="Oak shelf XL"))
    return place({"LAMP": 1, "SHELF": 3}, customer=customer)


@pytest.fixture
def browser_client():
    return Client(enforce_csrf_checks=True)


def _post(client, path, data):
    page = client.get(path)
    token = page.cookies["csrftoken"].value
    return client.post(path, {**data, "csrfmiddlewaretoken": token})


def test_page_shows_the_order_without_login(client, order):
    response = client.get(order_status_path(order))
    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html and "Oak shelf" in html and "Desk lamp" in html
    assert "we do not have a date yet" in html.lower()
    assert "SHELF-XL" in html  # an in-stock alternative
    assert response["Cache-Control"].startswith("max-age=0")
    assert "Content-Security-Policy" in response
    assert "<script" not in html


def test_tampered_token_is_404_and_another_orders_token_shows_only_that_order(client, order, place, customer):
    path = order_status_path(order)
    assert client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB")).status_code == 404
    assert client.get("/s/nonsense").status_code == 404
    forged = signing.dumps({"o": order.pk, "c": 0}, salt="another-salt")
    assert client.get(f"/s/{forged}").status_code == 404
    other = place({"LAMP": 1}, customer=CustomerFactory(name="Somebody Else"))
    html = client.get(order_status_path(other)).content.decode()
    assert other.number in html and order.number not in html and "Oak shelf" not in html


def test_token_bound_to_the_channel(client, order):
    wrong_channel = signing.dumps({"o": order.pk, "c": 999}, salt=SALT)
    assert client.get(f"/s/{wrong_channel}").status_code == 404


def test_expired_link_is_410_a_while_after_the_order_closed(client, order, settings):
    settings.OMS = {**settings.OMS, "STATUS_LINK_DAYS_AFTER_CLOSE": 30}
    path = order_status_path(order)
    Order.objects.filter(pk=order.pk).update(status="cancelled", cancelled_at=timezone.now() - timedelta(days=29))
    assert client.get(path).status_code == 200
    Order.objects.filter(pk=order.pk).update(cancelled_at=timezone.now() - timedelta(days=31))
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_cancel_waiting_units_goes_through_order_cancel_as_the_customer(browser_client, order):
    path = order_status_path(order)
    backorder = Backorder.objects.get(order=order)
    response = _post(browser_client, path, {"action": "cancel", "backorder": backorder.pk, "quantity": 1})
    assert response.status_code == 302 and response["Location"] == f"{path}?done=cancel"
    backorder.refresh_from_db()
    assert (backorder.quantity_cancelled, backorder.quantity_outstanding) == (1, 2)
    event = backorder.events.get(kind=BackorderEvent.Kind.CANCELLED)
    assert event.actor == "customer" and event.created_by is None
    assert Notification.objects.filter(order=order, event="cancelled").count() == 1
    page = browser_client.get(response["Location"]).content.decode()
    assert "are cancelled" in page


def test_cannot_cancel_reserved_units_or_more_than_waits(browser_client, order):
    path = order_status_path(order)
    backorder = Backorder.objects.get(order=order)
    response = _post(browser_client, path, {"action": "cancel", "backorder": backorder.pk, "quantity": 4})
    assert response.status_code == 422
    assert Backorder.objects.get(pk=backorder.pk).quantity_cancelled == 0


def test_actions_need_csrf(browser_client, order):
    backorder = Backorder.objects.get(order=order)
    response = browser_client.post(order_status_path(order), {"action": "cancel", "backorder": backorder.pk})
    assert response.status_code == 403
    assert Backorder.objects.get(pk=backorder.pk).quantity_cancelled == 0


def test_another_orders_backorder_is_not_reachable(browser_client, order, place, make_product):
    other = place({"SHELF": 2}, customer=CustomerFactory())
    theirs = Backorder.objects.get(order=other)
    response = _post(
        browser_client, order_status_path(order), {"action": "cancel", "backorder": theirs.pk, "quantity": 1}
    )
    assert response.status_code == 404
    assert Backorder.objects.get(pk=theirs.pk).quantity_cancelled == 0


def test_accept_substitute(browser_client, order):
    backorder = Backorder.objects.get(order=order)
    response = _post(
        browser_client, order_status_path(order), {"action": "substitute", "backorder": backorder.pk, "sku": "SHELF-XL"}
    )
    assert response.status_code == 302
    assert OrderLine.objects.get(order=order, product__sku="SHELF-XL").quantity_allocated == 3
    assert backorder.events.get(kind="cancelled").actor == "customer"
    assert Notification.objects.filter(order=order, event="substitute_accepted").exists()


def test_accept_later_date_records_an_event_and_clears_at_risk(browser_client, order):
    backorder = Backorder.objects.get(order=order)
    Backorder.objects.filter(pk=backorder.pk).update(eta=timezone.localdate() + timedelta(days=40))
    OrderLine.objects.filter(pk=backorder.order_line_id).update(at_risk=True)
    assert "The new date works for me" in browser_client.get(order_status_path(order)).content.decode()
    response = _post(browser_client, order_status_path(order), {"action": "accept_date", "backorder": backorder.pk})
    assert response.status_code == 302
    event = backorder.events.get(kind=BackorderEvent.Kind.DATE_ACCEPTED)
    assert event.actor == "customer"
    assert OrderLine.objects.get(pk=backorder.order_line_id).at_risk is False


def test_opt_out_of_regular_updates(browser_client, order):
    response = _post(browser_client, order_status_path(order), {"action": "opt_out"})
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(customer=order.customer)
    assert (preference.regular_updates, preference.updated_by) == (False, "customer")  # the actor, like every action


def test_actions_are_rate_limited_per_link(browser_client, order, settings):
    settings.OMS = {**settings.OMS, "STATUS_ACTIONS_PER_HOUR": 2}
    from django.core.cache import cache

    cache.clear()
    path = order_status_path(order)
    assert _post(browser_client, path, {"action": "opt_out"}).status_code == 302
    assert _post(browser_client, path, {"action": "opt_out"}).status_code == 302
    assert _post(browser_client, path, {"action": "opt_out"}).status_code == 429
    cache.clear()


def test_every_notification_carries_the_status_url(order, settings):
    settings.OMS = {**settings.OMS, "PUBLIC_BASE_URL": "https://shop.example.com"}
    email = Notification.objects.filter(order=order, channel="email").first()
    notification_render(email)
    url = f"https://shop.example.com{order_status_path(order)}"
    assert url in email.body_text and url in email.body_html
    webhook = Notification(order=order, customer=order.customer, event=email.event, channel="webhook",
                           dedupe_key="x", context=email.context, next_attempt_at=timezone.now())  # fmt: skip
    notification_render(webhook)
    assert webhook.payload["status_url"] == url


def test_an_orders_link_is_the_same_in_every_message(order):
    """No timestamp in the token: two messages about one order, seconds apart, carry the same link."""
    from unittest import mock

    from django.utils import timezone

    first = order_status_path(order)
    later = timezone.now() + timezone.timedelta(seconds=90)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        assert order_status_path(order) == first
