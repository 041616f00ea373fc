"""API: notifications (staff), backorder notifications/notify/alternatives, accept-substitute, preferences."""

from __future__ import annotations

import pytest

from backorders.models import Backorder, BackorderEvent
from fulfilment.integrity import integrity_problems
from inventory.models import StockItem
from notifications.delivery import notification_deliver
from notifications.models import Notification, NotificationPreference
from orders.models import OrderLine
from tests.notifications.factories import rendered, substitute_link

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def shop_order(make_product, place, customer, channel_key):
    """An order of the API-key channel: 3 units of a product with 1 in stock (2 backordered)."""
    shop, _ = channel_key
    product = make_product(stock=1, name="Blue kettle", unit_price="30.00")
    order = place({product.sku: 3}, customer=customer, channel=shop)
    return order, product, Backorder.objects.get(order=order)


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == code


# --- /notifications/ ------------------------------------------------------------------------------


def test_staff_list_with_filters_and_fixed_query_count(
    staff_client, make_product, place, django_assert_max_num_queries
):
    product = make_product(stock=0)
    orders = [place({product.sku: 1}) for _ in range(5)]
    first = Notification.objects.get(order=orders[0])
    notification_deliver(notification_id=first.pk)
    with django_assert_max_num_queries(4):
        response = staff_client.get("/api/v1/notifications/")
    assert response.status_code == 200
    assert response.json()["count"] == 5
    response = staff_client.get("/api/v1/notifications/", {"status": "sent", "channel": "email"})
    [row] = response.json()["results"]
    assert row["id"] == first.pk and row["order"] == orders[0].number and row["event"] == "backorder_created"
    response = staff_client.get("/api/v1/notifications/", {"order": orders[1].number, "status": "pending"})
    assert [r["order"] for r in response.json()["results"]] == [orders[1].number]


def test_list_refuses_bad_filters_and_non_staff(staff_client, channel_client, anon_client):
    assert_problem(staff_client.get("/api/v1/notifications/", {"status": "lost"}), 400, "validation_error")
    assert_problem(channel_client.get("/api/v1/notifications/"), 403, "permission_denied")
    assert anon_client.get("/api/v1/notifications/").status_code == 401


def test_detail_and_retry(staff_client, make_product, place, notify_settings):
    product = make_product(stock=0)
    place({product.sku: 1})
    notification = rendered(Notification.objects.get())
    Notification.objects.filter(pk=notification.pk).update(status="failed", attempts=6, last_error="SMTP down")
    response = staff_client.get(f"/api/v1/notifications/{notification.pk}/")
    assert response.status_code == 200
    assert response.json()["last_error"] == "SMTP down" and "Hello" in response.json()["body_text"]

    response = staff_client.post(f"/api/v1/notifications/{notification.pk}/retry/")
    body = response.json()
    # The history stays: the counter goes on, and the retry limit counts again from here.
    assert response.status_code == 200 and body["status"] == "pending" and body["attempts"] == 6
    assert body["attempts_before_retry"] == 6
    notification_deliver(notification_id=notification.pk)
    body = staff_client.get(f"/api/v1/notifications/{notification.pk}/").json()
    assert body["status"] == "sent" and body["attempts"] == 7
    assert [(a["number"], a["outcome"]) for a in body["attempt_log"]][-1] == (7, "sent")
    assert_problem(staff_client.post(f"/api/v1/notifications/{notification.pk}/retry/"), 409, "invalid_transition")
    assert_problem(staff_client.post("/api/v1/notifications/999999/retry/"), 404, "not_found")


# --- backorders -----------------------------------------------------------------------------------


def test_backorder_notifications_for_its_channel_only(shop_order, channel_client, other_channel_client):
    _, _, backorder = shop_order
    response = channel_client.get(f"/api/v1/backorders/{backorder.pk}/notifications/")
    assert response.status_code == 200
    assert [n["event"] for n in response.json()["results"]] == ["backorder_created"]
    assert_problem(other_channel_client.get(f"/api/v1/backorders/{backorder.pk}/notifications/"), 404, "not_found")


def test_staff_manual_update(shop_order, staff_client, channel_client):
    _, _, backorder = shop_order
    response = staff_client.post(f"/api/v1/backorders/{backorder.pk}/notify/", {"note": "Arrives Monday."})
    assert response.status_code == 201
    assert [n["event"] for n in response.json()] == ["manual_update"]
    assert "Arrives Monday." in rendered(Notification.objects.get(event="manual_update")).body_text

    before = (Notification.objects.count(), BackorderEvent.objects.count())
    assert_problem(
        staff_client.post(f"/api/v1/backorders/{backorder.pk}/notify/", {"note": ""}), 400, "validation_error"
    )
    response = channel_client.post(f"/api/v1/backorders/{backorder.pk}/notify/", {"note": "x"})
    assert_problem(response, 403, "permission_denied")
    assert (Notification.objects.count(), BackorderEvent.objects.count()) == before


def test_alternatives_endpoint(shop_order, make_product, channel_client):
    _, product, backorder = shop_order
    red = make_product(stock=5, name="Red kettle", unit_price="32.00")
    substitute_link(product, red, make_product(stock=0))
    response = channel_client.get(f"/api/v1/backorders/{backorder.pk}/alternatives/")
    assert response.status_code == 200
    assert response.json() == [{"sku": red.sku, "name": "Red kettle", "unit_price": "32.00", "available": 5}]


# --- accept a substitute ----------------------------------------------------------------------------


def test_accept_substitute_cancels_the_wait_and_allocates_the_substitute(shop_order, make_product, channel_client):
    order, product, backorder = shop_order
    red = make_product(stock=5, name="Red kettle", unit_price="32.00")
    substitute_link(product, red)
    response = channel_client.post(f"/api/v1/backorders/{backorder.pk}/accept-substitute/", {"sku": red.sku})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["backorder"]["status"] == "cancelled" and body["backorder"]["quantity_cancelled"] == 2
    assert body["substitute_line"]["sku"] == red.sku and body["substitute_line"]["quantity_allocated"] == 2
    assert body["order"]["status"] == "open"

    old_line = OrderLine.objects.get(order=order, product=product)
    assert (old_line.quantity_allocated, old_line.quantity_backordered, old_line.quantity_cancelled) == (1, 0, 2)
    assert StockItem.objects.get(product=red).allocated == 2
    assert integrity_problems() == []
    message = rendered(Notification.objects.get(event="substitute_accepted", channel="email"))
    assert "2 x Red kettle" in message.body_text


def test_accept_substitute_with_too_little_stock_is_refused_and_nothing_changes(
    shop_order, make_product, channel_client
):
    _, product, backorder = shop_order
    red = make_product(stock=1)
    substitute_link(product, red)
    before = (OrderLine.objects.count(), Notification.objects.count(), BackorderEvent.objects.count())
    response = channel_client.post(f"/api/v1/backorders/{backorder.pk}/accept-substitute/", {"sku": red.sku})
    assert_problem(response, 409, "insufficient_stock")
    assert response.json()["details"] == {"sku": red.sku, "available": 1, "needed": 2}
    assert (OrderLine.objects.count(), Notification.objects.count(), BackorderEvent.objects.count()) == before
    backorder.refresh_from_db()
    assert backorder.status == "open" and StockItem.objects.get(product=red).allocated == 0


def test_substitute_stock_owed_to_its_own_queue_is_not_free(shop_order, make_product, place, channel_client):
    _, product, backorder = shop_order
    red = make_product(stock=2)
    substitute_link(product, red)
    place({red.sku: 3})  # takes 2, and 1 more waits in red's own queue
    response = channel_client.post(f"/api/v1/backorders/{backorder.pk}/accept-substitute/", {"sku": red.sku})
    assert_problem(response, 409, "insufficient_stock")


def test_accept_substitute_refusals(shop_order, make_product, channel_client, other_channel_client, staff_client):
    _, product, backorder = shop_order
    unrelated = make_product(stock=9)
    url = f"/api/v1/backorders/{backorder.pk}/accept-substitute/"
    assert_problem(channel_client.post(url, {"sku": unrelated.sku}), 422, "not_a_substitute")
    assert_problem(channel_client.post(url, {"sku": "NOPE"}), 422, "unknown_sku")
    assert_problem(channel_client.post(url, {}), 400, "validation_error")
    assert_problem(other_channel_client.post(url, {"sku": unrelated.sku}), 404, "not_found")
    assert_problem(staff_client.post("/api/v1/backorders/999999/accept-substitute/", {"sku": "x"}), 404, "not_found")
    assert OrderLine.objects.count() == 1


def test_accept_substitute_on_a_closed_backorder(shop_order, make_product, staff_client):
    order, product, backorder = shop_order
    red = make_product(stock=5)
    substitute_link(product, red)
    url = f"/api/v1/backorders/{backorder.pk}/accept-substitute/"
    assert staff_client.post(url, {"sku": red.sku}).status_code == 200
    assert_problem(staff_client.post(url, {"sku": red.sku}), 409, "backorder_closed")


def test_accept_substitute_onto_an_existing_line_of_the_order(make_product, place, customer, staff_client):
    blue = make_product(stock=0)
    red = make_product(stock=4)
    substitute_link(blue, red)
    order = place({blue.sku: 2, red.sku: 1}, customer=customer)
    backorder = Backorder.objects.get(order=order)
    response = staff_client.post(f"/api/v1/backorders/{backorder.pk}/accept-substitute/", {"sku": red.sku})
    assert response.status_code == 200
    line = OrderLine.objects.get(order=order, product=red)
    assert (line.quantity, line.quantity_allocated) == (3, 3)
    assert integrity_problems() == []


# --- preferences -----------------------------------------------------------------------------------


def test_preferences_get_and_put(shop_order, customer, channel_client, other_channel_client):
    url = f"/api/v1/customers/{customer.external_id}/notification-preferences/"
    response = channel_client.get(url)
    assert response.status_code == 200
    assert response.json()["regular_updates"] is True and response.json()["preferred_channel"] == "email"
    response = channel_client.put(url, {"regular_updates": False}, format="json")
    assert response.status_code == 200 and response.json()["regular_updates"] is False
    assert NotificationPreference.objects.get(customer=customer).regular_updates is False
    assert_problem(channel_client.put(url, {"preferred_channel": "pigeon"}, format="json"), 400, "validation_error")
    assert_problem(other_channel_client.get(url), 404, "not_found")


# --- alternatives and notifications inside the order and backorder responses ----------------------


def test_backorder_detail_shows_alternatives_and_notifications(shop_order, make_product, channel_client):
    _, product, backorder = shop_order
    red = make_product(stock=3, name="Red kettle", unit_price="32.00")
    substitute_link(product, red)
    data = channel_client.get(f"/api/v1/backorders/{backorder.pk}/").json()
    assert data["alternatives"] == [{"sku": red.sku, "name": "Red kettle", "unit_price": "32.00", "available": 3}]
    assert [(n["event"], n["channel"], n["status"]) for n in data["notifications"]] == [
        ("backorder_created", "email", "pending")
    ]


def test_order_detail_shows_alternatives_per_backorder_without_n_plus_1(
    make_product, place, customer, staff_client, django_assert_max_num_queries
):
    waiting = [make_product(stock=0) for _ in range(4)]
    for product in waiting:
        substitute_link(product, make_product(stock=2))
    order = place({p.sku: 1 for p in waiting}, customer=customer)
    with django_assert_max_num_queries(12):
        data = staff_client.get(f"/api/v1/orders/{order.number}/").json()
    assert [len(b["alternatives"]) for b in data["backorders"]] == [1, 1, 1, 1]
    assert [n["event"] for n in data["notifications"]] == ["backorder_created"]


# --- admin ----------------------------------------------------------------------------------------


def test_admin_lists_failed_notifications_with_their_error_and_retries_them(make_product, place, admin_client):
    product = make_product(stock=0)
    place({product.sku: 1})
    place({product.sku: 1})
    failed, other = Notification.objects.order_by("pk")
    Notification.objects.filter(pk=failed.pk).update(status="failed", attempts=6, last_error="Webhook answered 503")
    response = admin_client.get("/admin/notifications/notification/", {"status__exact": "failed"})
    assert response.status_code == 200
    assert b"Webhook answered 503" in response.content and response.context["cl"].result_count == 1

    notification_deliver(notification_id=other.pk)
    response = admin_client.post(
        "/admin/notifications/notification/",
        {"action": "retry_selected", "_selected_action": [failed.pk, other.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    other.refresh_from_db()
    assert (failed.status, failed.attempts, failed.attempts_before_retry) == ("pending", 6, 6)
    assert other.status == "sent"  # a sent row is left alone
    messages = [str(m) for m in response.context["messages"]]
    assert "1 queued for another try." in messages and "1 were already sent and were left alone." in messages
    # The change page lists every attempt, read-only.
    response = admin_client.get(f"/admin/notifications/notification/{other.pk}/change/")
    assert response.status_code == 200
    assert b"Notification attempts" in response.content and b"attempt_log-0-number" not in response.content
    assert "Sent" in response.content.decode()
