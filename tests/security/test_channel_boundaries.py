"""Sales channels reach only their own customers and cannot decide what staff decide (issue: safe on the internet).

Each test replays an attack through the real URL stack on the real database and asserts it fails safely with nothing
written. Before customers were scoped per channel, channel A placing an order with channel B's customer id rewrote
B's customer's email; a storefront could put a new order first in the queue with "critical" and "platinum".
"""

from __future__ import annotations

import csv
import io

import pytest

from backorders.models import Backorder, BackorderEvent
from backorders.services import backorder_priority_change
from notifications.models import Notification, NotificationPreference
from orders.models import Customer, Order, SalesChannel
from tests.inventory.test_api import assert_problem

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def order_body(external_id="c-1", email="ann@example.com", name="Ann", lines=None, **extra):
    return {
        "customer": {"external_id": external_id, "email": email, "name": name, **extra.pop("customer_extra", {})},
        "lines": [{"sku": sku, "quantity": q} for sku, q in (lines or {"A-1": 1}).items()],
        **extra,
    }


def place(client, **kwargs):
    response = client.post(ORDERS, order_body(**kwargs), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def nothing_written():
    return not Order.objects.exists() and not Backorder.objects.exists() and not Customer.objects.exists()


# --- customers are scoped per channel ----------------------------------------------------------------------------


def test_another_channels_customer_id_gives_a_separate_customer_and_leaves_theirs_alone(
    make_product, channel_client, other_channel_client
):
    make_product(sku="A-1", stock=10)
    place(other_channel_client, external_id="c-1", email="bea@b2b.example", name="Bea")
    place(channel_client, external_id="c-1", email="attacker@evil.example", name="Mallory")
    theirs = Customer.objects.get(channel__code="b2b-portal", external_id="c-1")
    mine = Customer.objects.get(channel__code="web-shop", external_id="c-1")
    assert theirs.pk != mine.pk
    assert (theirs.email, theirs.name) == ("bea@b2b.example", "Bea")
    assert (mine.email, mine.name) == ("attacker@evil.example", "Mallory")
    assert set(Order.objects.values_list("channel__code", "customer_id")) == {
        ("b2b-portal", theirs.pk),
        ("web-shop", mine.pk),
    }


def test_updates_about_the_other_channels_order_still_go_to_its_own_customer(
    make_product, channel_client, other_channel_client
):
    make_product(sku="A-1")  # no stock: both orders backorder and their customers are told
    place(other_channel_client, external_id="c-1", email="bea@b2b.example")
    place(channel_client, external_id="c-1", email="attacker@evil.example")
    recipients = set(
        Notification.objects.filter(order__channel__code="b2b-portal", channel="email").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {"bea@b2b.example"}


def test_a_channel_cannot_read_or_change_another_channels_customer_preferences(
    make_product, channel_client, other_channel_client
):
    make_product(sku="A-1", stock=5)
    place(other_channel_client, external_id="c-9", email="bea@b2b.example")
    url = "/api/v1/customers/c-9/notification-preferences/"
    assert_problem(channel_client.get(url), 404, "not_found")
    assert_problem(channel_client.patch(url, {"regular_updates": False}, format="json"), 404, "not_found")
    assert not NotificationPreference.objects.exists()
    # Its own channel can.
    assert other_channel_client.patch(url, {"regular_updates": False}, format="json").status_code == 200


def test_staff_name_the_channel_when_two_channels_share_an_external_id(
    make_product, channel_client, other_channel_client, staff_client
):
    make_product(sku="A-1", stock=5)
    place(channel_client, external_id="c-2")
    place(other_channel_client, external_id="c-2")
    url = "/api/v1/customers/c-2/notification-preferences/"
    body = assert_problem(staff_client.get(url), 409, "ambiguous_customer")
    assert body["details"]["channels"] == ["b2b-portal", "web-shop"]
    assert staff_client.get(url, {"channel": "b2b-portal"}).status_code == 200


def test_the_customers_api_shows_a_channel_only_its_own(
    make_product, channel_client, other_channel_client, staff_client
):
    make_product(sku="A-1", stock=5)
    place(channel_client, external_id="mine")
    place(other_channel_client, external_id="theirs")
    listed = channel_client.get("/api/v1/customers/").json()["results"]
    assert [row["external_id"] for row in listed] == ["mine"]
    theirs = Customer.objects.get(external_id="theirs")
    assert_problem(channel_client.get(f"/api/v1/customers/{theirs.pk}/"), 404, "not_found")
    assert len(staff_client.get("/api/v1/customers/").json()["results"]) == 2


# --- priority and tier are staff's -------------------------------------------------------------------------------


def test_a_channel_cannot_jump_the_queue_with_priority_or_tier(make_product, channel_client):
    make_product(sku="A-1")
    body = assert_problem(
        channel_client.post(ORDERS, order_body(priority="critical"), format="json"), 422, "priority_not_allowed"
    )
    assert body["details"] == {"priority": "critical", "max_priority": "normal"}
    assert nothing_written()
    assert_problem(
        channel_client.post(ORDERS, order_body(customer_extra={"tier": "platinum"}), format="json"),
        422,
        "tier_not_allowed",
    )
    assert nothing_written()


def test_the_cap_is_per_channel_and_staff_set_it(make_product, channel_client, channel_key):
    make_product(sku="A-1")
    SalesChannel.objects.filter(pk=channel_key[0].pk).update(max_priority="high")
    assert place(channel_client, priority="high")["priority"] == "high"
    assert place(channel_client, priority="low")["priority"] == "low"
    assert_problem(
        channel_client.post(ORDERS, order_body(priority="critical"), format="json"), 422, "priority_not_allowed"
    )
    assert Order.objects.count() == 2


def test_staff_set_the_tier_through_the_staff_api_and_a_channel_cannot(make_product, channel_client, staff_client):
    make_product(sku="A-1", stock=5)
    place(channel_client, external_id="c-3")
    customer = Customer.objects.get()
    assert customer.tier == "standard"
    url = f"/api/v1/customers/{customer.pk}/"
    assert channel_client.patch(url, {"tier": "gold"}, format="json").status_code == 403
    customer.refresh_from_db()
    assert customer.tier == "standard"
    response = staff_client.patch(url, {"tier": "gold"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tier"] == "gold"
    customer.refresh_from_db()
    assert customer.tier == "gold"


def test_lifetime_value_grows_with_what_is_shipped(make_product, channel_client, staff_client):
    make_product(sku="A-1", stock=5, unit_price="12.50")
    number = place(channel_client, external_id="c-4", lines={"A-1": 2})["number"]
    assert Customer.objects.get().lifetime_value == 0
    assert staff_client.post(f"{ORDERS}{number}/ship/", {}, format="json").status_code == 200
    assert str(Customer.objects.get().lifetime_value) == "25.00"


# --- staff internals stay on the staff side ---------------------------------------------------------------------


def test_a_channel_sees_neither_staff_names_nor_their_reasons(make_product, channel_client, django_user_model):
    staff_user = django_user_model.objects.create_user("alice.ops", "alice@example.com", "x" * 20, is_staff=True)
    make_product(sku="A-1")
    place(channel_client, external_id="c-5")
    backorder = Backorder.objects.get()
    backorder_priority_change(
        backorder=backorder, priority="high", reason="CEO's cousin, keep it quiet", user=staff_user
    )
    assert BackorderEvent.objects.get(kind="priority_changed").actor == "alice.ops"
    response = channel_client.get(f"/api/v1/backorders/{backorder.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "CEO's cousin" not in text and staff_user.username not in text
    [changed] = [e for e in response.json()["events"] if e["kind"] == "priority_changed"]
    assert changed["actor"] == "staff"
    assert changed["message"] == "Priority changed from normal to high."
    assert "reason" not in changed["data"]


def test_staff_still_see_who_and_why(make_product, channel_client, staff_user, staff_client):
    make_product(sku="A-1")
    place(channel_client, external_id="c-6")
    backorder = Backorder.objects.get()
    backorder_priority_change(backorder=backorder, priority="high", reason="Key account", user=staff_user)
    [changed] = [
        e
        for e in staff_client.get(f"/api/v1/backorders/{backorder.pk}/").json()["events"]
        if e["kind"] == "priority_changed"
    ]
    assert changed["actor"] == staff_user.username
    assert changed["data"]["reason"] == "Key account"


# --- exports and messages ---------------------------------------------------------------------------------------


def test_csv_exports_neutralise_formulas_from_customers(make_product, channel_client, staff_user, client):
    make_product(sku="A-1")
    place(channel_client, external_id="c-7", email="=cmd|'/Ccalc'!A0@example.com", name="@SUM(1+1)")
    client.force_login(staff_user)
    response = client.get("/backorders/", {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=cmd|'/Ccalc'!A0@example.com" in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)


def test_a_tier_set_by_staff_rescores_the_customers_waiting_backorders(make_product, channel_client, staff_client):
    make_product(sku="A-1")  # no stock: both wait
    place(channel_client, external_id="early")
    place(channel_client, external_id="later")
    later = Customer.objects.get(external_id="later")
    queue = list(
        Backorder.objects.order_by(*Backorder.QUEUE_ORDER).values_list("order__customer__external_id", flat=True)
    )
    assert queue == ["early", "later"]
    assert staff_client.patch(f"/api/v1/customers/{later.pk}/", {"tier": "platinum"}, format="json").status_code == 200
    queue = list(
        Backorder.objects.order_by(*Backorder.QUEUE_ORDER).values_list("order__customer__external_id", flat=True)
    )
    assert queue == ["later", "early"]
    assert Backorder.objects.get(order__customer=later).priority_score > 0
