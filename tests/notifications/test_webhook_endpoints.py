"""Storefronts register their own webhooks (issue 14): the /api/v1/webhooks/ API, event filtering, several endpoints
per channel, ping, the delivery log, and channel isolation. Receivers are real HTTP servers on 127.0.0.1
(OMS_OUTBOUND_ALLOW_PRIVATE/HTTP are on in this folder's conftest)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from notifications.delivery import notification_deliver
from notifications.models import Notification, WebhookEndpoint
from notifications.services import notification_manual_update
from tests.notifications.factories import NotificationPreferenceFactory, WebhookEndpointFactory
from tests.orders.factories import CustomerFactory, SalesChannelFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhooks/"


def signed_by(secret: str, request: dict, header: str = "X-Signature") -> bool:
    """The receiver's check, as docs/notifications.md shows it."""
    timestamp = request["headers"]["X-Signature-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"].get(header, ""))


def register(client, url: str, events=("backorder_created",), **extra) -> dict:
    response = client.post(URL, {"url": url, "events": list(events), **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- CRUD, secret once, isolation ----------------------------------------------------------------


def test_a_channel_manages_its_endpoints_and_sees_the_secret_once(channel_client, channel_key):
    created = register(channel_client, "https://hooks.example.com/oms", events=["shipped", "backorder_created"])
    secret = created["secret"]
    assert len(secret) >= 40 and created["channel"] == channel_key[0].code
    assert created["events"] == ["backorder_created", "shipped"]  # each once, in the documented order
    assert created["is_active"] is True and created["health"] is None
    pk = created["id"]
    assert WebhookEndpoint.objects.get(pk=pk).secret == secret

    listed = channel_client.get(URL).json()
    assert [e["id"] for e in listed["results"]] == [pk]
    detail = channel_client.get(f"{URL}{pk}/")
    assert detail.status_code == 200 and "secret" not in detail.json() and secret not in detail.content.decode()
    assert secret not in channel_client.get(URL).content.decode()

    changed = channel_client.patch(f"{URL}{pk}/", {"events": ["ready"], "is_active": False}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["is_active"]) == (["ready"], False)
    assert "secret" not in changed.json()

    assert channel_client.delete(f"{URL}{pk}/").status_code == 204
    assert channel_client.get(f"{URL}{pk}/").status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_rotating_returns_a_new_secret_once_and_keeps_the_old_one_for_the_grace(channel_client):
    created = register(channel_client, "https://hooks.example.com/oms")
    response = channel_client.post(f"{URL}{created['id']}/rotate-secret/")
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["secret"] != created["secret"] and len(rotated["secret"]) >= 40
    assert rotated["previous_secret_expires_at"] is not None
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert (endpoint.secret, endpoint.previous_secret) == (rotated["secret"], created["secret"])
    assert rotated["secret"] not in channel_client.get(f"{URL}{created['id']}/").content.decode()


def test_another_channels_endpoints_are_404_everywhere(channel_client, other_channel_client):
    pk = register(channel_client, "https://hooks.example.com/oms")["id"]
    assert other_channel_client.get(URL).json()["results"] == []
    for method, path in [
        ("get", f"{URL}{pk}/"),
        ("patch", f"{URL}{pk}/"),
        ("delete", f"{URL}{pk}/"),
        ("post", f"{URL}{pk}/rotate-secret/"),
        ("post", f"{URL}{pk}/ping/"),
        ("get", f"{URL}{pk}/deliveries/"),
    ]:
        response = getattr(other_channel_client, method)(path, {"is_active": False}, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"
    endpoint = WebhookEndpoint.objects.get(pk=pk)
    assert endpoint.is_active and endpoint.previous_secret == ""  # nothing changed


def test_a_channel_may_not_name_another_channel(channel_client, other_channel_client):
    response = channel_client.post(
        URL, {"url": "https://hooks.example.com/oms", "events": ["ready"], "channel": "b2b-portal"}, format="json"
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    assert not WebhookEndpoint.objects.exists()


def test_staff_see_all_and_manage_with_the_permission(channel_client, staff_client, bare_staff_client, channel_key):
    register(channel_client, "https://hooks.example.com/a")
    SalesChannelFactory(code="other")
    body = {"url": "https://hooks.example.com/b", "events": ["ready"], "channel": "other"}
    refused = bare_staff_client.post(URL, body, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert WebhookEndpoint.objects.count() == 1
    assert len(bare_staff_client.get(URL).json()["results"]) == 1  # reads stay open to staff

    created = register(staff_client, **body)
    assert created["channel"] == "other" and created["secret"]
    assert [e["channel"] for e in staff_client.get(URL).json()["results"]] == ["other", channel_key[0].code]
    assert [e["channel"] for e in staff_client.get(URL, {"channel": "other"}).json()["results"]] == ["other"]
    missing = staff_client.post(URL, {"url": "https://hooks.example.com/c", "events": ["ready"]}, format="json")
    assert missing.status_code == 422 and missing.json()["details"]["errors"] == {"channel": ["required"]}
    assert bare_staff_client.delete(f"{URL}{created['id']}/").status_code == 403
    assert staff_client.delete(f"{URL}{created['id']}/").status_code == 204


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "https://localhost/hook", "https://10.0.0.5/hook", "https://169.254.169.254/x"],
)
def test_private_and_loopback_urls_are_refused_at_save(url, channel_client, settings):
    settings.OMS_OUTBOUND_ALLOW_PRIVATE = False
    settings.OMS_OUTBOUND_ALLOW_HTTP = True
    response = channel_client.post(URL, {"url": url, "events": ["ready"]}, format="json")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "webhook_url_not_allowed"
    assert "url" in response.json()["details"]["errors"]
    assert not WebhookEndpoint.objects.exists()

    pk = WebhookEndpointFactory(channel=SalesChannelFactory(code="web-shop")).pk
    response = channel_client.patch(f"{URL}{pk}/", {"url": url}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "webhook_url_not_allowed"
    assert WebhookEndpoint.objects.get(pk=pk).url == "https://hooks.example.com/oms"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.example.com/oms", "events": []},
        {"url": "https://hooks.example.com/oms", "events": ["nope"]},
        {"url": "https://hooks.example.com/oms"},
        {"url": "https://hooks.example.com/oms", "events": ["ready"], "secret": "mine"},
    ],
    ids=["no-events", "unknown-event", "events-missing", "secret-not-accepted"],
)
def test_invalid_input_is_400_and_writes_nothing(body, channel_client):
    response = channel_client.post(URL, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert not WebhookEndpoint.objects.exists()


def test_a_channel_has_a_limited_number_of_endpoints(channel_client, settings):
    settings.OMS = {**settings.OMS, "WEBHOOK_ENDPOINTS_PER_CHANNEL": 2}
    register(channel_client, "https://hooks.example.com/1")
    register(channel_client, "https://hooks.example.com/2")
    response = channel_client.post(URL, {"url": "https://hooks.example.com/3", "events": ["ready"]}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "webhook_endpoint_limit"


def test_the_list_runs_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    for n in range(8):
        WebhookEndpointFactory(channel=SalesChannelFactory(code=f"shop-{n}"))
    with django_assert_max_num_queries(6):
        response = staff_client.get(URL)
    assert response.status_code == 200 and len(response.json()["results"]) == 8


# --- ping --------------------------------------------------------------------------------------------


def test_ping_sends_a_signed_test_event_and_says_what_happened(channel_client, receiver):
    ok = receiver([200])
    created = register(channel_client, ok.url)
    response = channel_client.post(f"{URL}{created['id']}/ping/")
    assert response.status_code == 200
    result = response.json()
    assert result["delivered"] is True and result["status_code"] == 200 and result["error"] == ""
    assert result["duration_ms"] >= 0
    [sent] = ok.requests
    assert sent["headers"]["X-Event"] == "ping" and sent["headers"]["X-Notification-Id"] == result["message_id"]
    assert signed_by(created["secret"], sent)
    assert json.loads(sent["body"])["endpoint"]["id"] == created["id"]

    failing = receiver([500])
    channel_client.patch(f"{URL}{created['id']}/", {"url": failing.url}, format="json")
    result = channel_client.post(f"{URL}{created['id']}/ping/").json()
    assert (result["delivered"], result["status_code"], result["error"]) == (False, 500, "Webhook answered HTTP 500")
    assert not Notification.objects.exists()  # a ping writes nothing


def test_ping_is_rate_limited(channel_client, receiver, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "webhook_ping": "2/min"},
    }
    pk = register(channel_client, receiver([200]).url)["id"]
    codes = [channel_client.post(f"{URL}{pk}/ping/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- event filtering, several endpoints, delivery log ------------------------------------------------


@pytest.fixture
def shop(channel_key):
    return channel_key[0]


def test_an_endpoint_gets_only_the_events_it_subscribed_to(shop, make_product, place, staff_user):
    created_only = WebhookEndpointFactory(channel=shop, url="https://a.example.com/h", events=["backorder_created"])
    shipped_only = WebhookEndpointFactory(channel=shop, url="https://b.example.com/h", events=["shipped"])
    order = place({make_product(stock=0).sku: 1}, customer=CustomerFactory(channel=shop), channel=shop)
    hooks = Notification.objects.filter(order=order, channel="webhook")
    assert [(n.event, n.webhook_endpoint_id) for n in hooks] == [("backorder_created", created_only.pk)]
    assert hooks.get().dedupe_key == f"backorder_created:o{order.pk}:webhook:{created_only.pk}"

    notification_manual_update(backorder=order.backorders.get(), note="Soon.", user=staff_user)
    manual = Notification.objects.filter(order=order, event="manual_update")
    assert [n.channel for n in manual] == ["email"]  # no endpoint subscribed to manual_update
    assert not Notification.objects.filter(webhook_endpoint=shipped_only).exists()


def test_email_still_goes_when_no_endpoint_takes_the_event(shop, make_product, place):
    """A customer who prefers hearing through the shop still gets the e-mail for an event the shop ignores."""
    WebhookEndpointFactory(channel=shop, events=["shipped"])
    customer = CustomerFactory(channel=shop)
    NotificationPreferenceFactory(customer=customer, preferred_channel="webhook")
    order = place({make_product(stock=0).sku: 1}, customer=customer, channel=shop)
    assert [n.channel for n in Notification.objects.filter(order=order)] == ["email"]


def test_switched_off_endpoints_get_nothing(shop, make_product, place):
    WebhookEndpointFactory(channel=shop, is_active=False)
    order = place({make_product(stock=0).sku: 1}, customer=CustomerFactory(channel=shop), channel=shop)
    assert not Notification.objects.filter(order=order, channel="webhook").exists()


def test_several_endpoints_each_get_their_events_signed_with_their_own_secret(
    channel_client, shop, make_product, place, receiver
):
    first, second = receiver([200]), receiver([200])
    a = register(channel_client, first.url, events=["backorder_created", "shipped"])
    b = register(channel_client, second.url, events=["backorder_created"])
    order = place({make_product(stock=0).sku: 2}, customer=CustomerFactory(channel=shop, email=""), channel=shop)
    rows = list(Notification.objects.filter(order=order, channel="webhook").order_by("webhook_endpoint_id"))
    assert [r.webhook_endpoint_id for r in rows] == [a["id"], b["id"]]
    assert len({r.dedupe_key for r in rows}) == 2
    for row in rows:
        assert notification_deliver(notification_id=row.pk) == "sent"
    [to_first], [to_second] = first.requests, second.requests
    assert signed_by(a["secret"], to_first) and not signed_by(b["secret"], to_first)
    assert signed_by(b["secret"], to_second) and not signed_by(a["secret"], to_second)
    assert json.loads(to_first["body"])["event"] == json.loads(to_second["body"])["event"] == "backorder_created"


def test_the_delivery_log_shows_each_attempt_with_status_and_timing(
    channel_client, other_channel_client, shop, make_product, place, receiver
):
    flaky = receiver([503, 200])
    created = register(channel_client, flaky.url)
    order = place({make_product(stock=0).sku: 1}, customer=CustomerFactory(channel=shop, email=""), channel=shop)
    row = Notification.objects.get(order=order, channel="webhook")
    assert notification_deliver(notification_id=row.pk) == "pending"
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=row.created_at)
    assert notification_deliver(notification_id=row.pk) == "sent"

    response = channel_client.get(f"{URL}{created['id']}/deliveries/")
    assert response.status_code == 200
    log = response.json()["results"]
    assert [(d["attempt"], d["outcome"], d["status_code"], d["error"]) for d in log] == [
        (2, "sent", 200, ""),
        (1, "temporary_failure", 503, "Webhook answered HTTP 503"),
    ]
    assert all(d["notification"] == row.pk and d["event"] == "backorder_created" for d in log)
    assert all(d["message_id"] == row.dedupe_key and d["duration_ms"] is not None for d in log)
    assert all(d["started_at"] and d["finished_at"] for d in log)
    assert other_channel_client.get(f"{URL}{created['id']}/deliveries/").status_code == 404
