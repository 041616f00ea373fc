"""Webhooks cannot be turned against the network (issue 11), and e-mail subjects are plain text.

Each test reproduces an attack against the real code on PostgreSQL: a channel's webhook pointed at
internal addresses, a name that resolves inside (DNS stubbed in the outbound module only), a receiver
that answers with secrets, hangs, drips or floods, and a send that held the notification row locked.
The receivers are real HTTP servers on 127.0.0.1, reached with OMS_OUTBOUND_ALLOW_PRIVATE switched on
explicitly where a test needs it.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from core import outbound
from core.errors import InvalidInput
from notifications.delivery import notification_deliver, webhook_signature
from notifications.models import Notification, WebhookEndpoint
from notifications.services import webhook_endpoint_create, webhook_endpoint_secret_rotate
from orders.models import SalesChannel
from tests.notifications.factories import WebhookEndpointFactory
from tests.orders.factories import SalesChannelFactory

CAP = 64 * 1024


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def outbound_rules(settings):
    """outbound_rules(private=..., http=..., timeout=...): the outbound settings for one test."""

    def apply(*, private: bool = False, http: bool = False, timeout: float = 2, cap: int = CAP):
        settings.OMS_OUTBOUND_ALLOW_PRIVATE = private
        settings.OMS_OUTBOUND_ALLOW_HTTP = http
        settings.OMS = {
            **settings.OMS,
            "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": timeout,
            "NOTIFY_WEBHOOK_MAX_RESPONSE_BYTES": cap,
        }

    apply()
    return apply


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose POST handler is ``respond(handler, server)``."""

    def __init__(self, respond):
        self.requests: list[dict] = []
        self.stop = threading.Event()
        self.bytes_sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append({"headers": dict(self.headers), "body": body})
                with contextlib.suppress(OSError):  # the client hung up on us: what some tests want
                    respond(self, server)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks/oms"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server():
    servers = []

    def start(respond):
        server = LocalServer(respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def answer(status: int, body: bytes = b"{}"):
    def respond(handler, server):
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@pytest.fixture
def webhook_row(make_product, place, customer):
    """webhook_row(url, channel=None): an order through a shop whose (only) webhook endpoint is ``url``; its
    webhook row. A channel given with an endpoint already keeps it (its secret); one without gets one."""

    def make(url: str, channel: SalesChannel | None = None):
        shop = channel or SalesChannelFactory(code="shop")
        endpoint = shop.webhook_endpoints.first() or WebhookEndpointFactory(channel=shop, secret="whsec_" + "k" * 40)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)  # as stored before these checks
        product = make_product(stock=0)
        order = place({product.sku: 1}, customer=customer, channel=shop)
        return order, Notification.objects.get(order=order, channel="webhook")

    return make


# --- 1. URLs are checked when saved -------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/hook",
    "https://127.0.0.1:8443/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://localhost/hook",
    "https://api.localhost/hook",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://224.0.0.251/hook",
    "https://[fd12:3456::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://[2002:7f00:1::]/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://0x7f.0.0.1/hook",
    "https://user:pass@example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/_GET",
    "ftp://example.com/hook",
    "dict://example.com:11211/stats",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFUSED)
def test_internal_and_non_http_urls_are_refused_when_saved(url, outbound_rules, channel_key):
    outbound_rules(http=True)  # even with plain http allowed (development), none of these is
    with pytest.raises(ValidationError):
        outbound.validate_outbound_url(url)
    channel, _ = channel_key
    with pytest.raises(ValidationError):
        WebhookEndpoint(channel=channel, url=url, events=["ready"], secret="s").full_clean()
    with pytest.raises(InvalidInput) as refused:
        webhook_endpoint_create(channel=channel, url=url, events=["ready"])
    assert refused.value.code == "webhook_url_not_allowed"
    assert not WebhookEndpoint.objects.exists()  # nothing written


@pytest.mark.django_db
def test_https_only_unless_http_is_allowed(outbound_rules):
    outbound.validate_outbound_url("https://hooks.example.com/oms")
    with pytest.raises(ValidationError):
        outbound.validate_outbound_url("http://hooks.example.com/oms")
    outbound_rules(http=True)
    outbound.validate_outbound_url("http://hooks.example.com/oms")


@pytest.mark.django_db
def test_a_stored_internal_url_is_refused_at_delivery(outbound_rules, webhook_row, local_server):
    """A URL saved before the validator existed (or written behind its back) is refused at send time."""
    server = local_server(answer(200))
    outbound_rules(http=True)  # private stays refused
    _, row = webhook_row(server.url)
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "Webhook address not allowed"
    assert server.requests == []


def test_metadata_address_stays_refused_even_with_private_allowed(settings):
    settings.OMS_OUTBOUND_ALLOW_PRIVATE = True
    settings.OMS_OUTBOUND_ALLOW_HTTP = True
    with pytest.raises(ValidationError):
        outbound.validate_outbound_url("http://169.254.169.254/latest/meta-data/")
    outbound.validate_outbound_url("http://127.0.0.1:8000/hook")  # the development convenience


# --- 2. ...and again at connect time, against the resolved address ------------------------------


@pytest.fixture
def dns(monkeypatch):
    """dns({"hooks.shop.example": ["127.0.0.1"]}): stub name resolution in the outbound module only."""
    real = outbound.socket.getaddrinfo

    def install(table: dict[str, list[str]]):
        def fake(host, port, *args, **kwargs):
            if host not in table:
                return real(host, port, *args, **kwargs)
            infos = []
            for address in table[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return infos

        monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)

    return install


@pytest.mark.django_db
@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::ffff:127.0.0.1"], ["169.254.169.254"], ["10.1.2.3"]],
)
def test_a_name_that_resolves_inside_is_refused_at_connect(addresses, outbound_rules, dns, webhook_row, local_server):
    server = local_server(answer(200))
    outbound_rules(http=True)
    dns({"hooks.shop.example": addresses})
    url = f"http://hooks.shop.example:{server.port}/hooks/oms"
    outbound.validate_outbound_url(url)  # a public-looking name passes the save-time check...
    _, row = webhook_row(url)
    assert notification_deliver(notification_id=row.pk) == "failed"  # ...and is stopped at connect time
    row.refresh_from_db()
    assert row.last_error == "Webhook address not allowed"
    assert server.requests == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_checked_address_with_the_real_host_name(outbound_rules, local_server, monkeypatch):
    """Resolved once and connected by address: a second answer (DNS rebinding) is never asked for."""
    server = local_server(answer(204, b""))
    outbound_rules(private=True, http=True)
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups = []
    real = outbound.socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.shop.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in next(answers)]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding)
    response = outbound.post(
        f"http://hooks.shop.example:{server.port}/hooks/oms",
        content=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=2,
        max_response_bytes=CAP,
    )
    assert response.status_code == 204 and lookups == ["hooks.shop.example"]
    assert server.requests[0]["headers"]["Host"] == f"hooks.shop.example:{server.port}"


# --- 3. nothing the receiver says reaches the channel ---------------------------------------------


@pytest.mark.django_db
def test_the_receivers_body_never_reaches_the_channel(
    outbound_rules, webhook_row, local_server, channel_key, channel_client
):
    server = local_server(answer(500, b"<h1>SECRET internal page</h1> db password hunter2"))
    outbound_rules(private=True, http=True)
    channel, _ = channel_key
    webhook_endpoint_create(channel=channel, url=server.url, events=["backorder_created"])
    order, row = webhook_row(server.url, channel=channel)
    assert notification_deliver(notification_id=row.pk) == "pending"  # a 5xx is retried later
    row.refresh_from_db()
    assert row.last_error == "Webhook answered HTTP 500"
    response = channel_client.get(f"/api/v1/orders/{order.number}/")
    assert response.status_code == 200
    notes = {n["channel"]: n for n in response.json()["notifications"]}
    assert notes["webhook"]["last_error"] == "Webhook answered HTTP 500"
    assert "SECRET" not in response.content.decode() and "hunter2" not in response.content.decode()


@pytest.mark.django_db
def test_a_refused_connection_says_only_not_reachable(outbound_rules, webhook_row):
    outbound_rules(private=True, http=True)
    _, row = webhook_row("http://127.0.0.1:1/hook")
    notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.last_error == "Webhook not reachable"  # no errno, no exception text


@pytest.mark.django_db
def test_redirects_are_not_followed(outbound_rules, webhook_row, local_server):
    inside = local_server(answer(200))

    def redirect(handler, server):
        handler.send_response(302)
        handler.send_header("Location", inside.url)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    outside = local_server(redirect)
    outbound_rules(private=True, http=True)
    _, row = webhook_row(outside.url)
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "Webhook answered HTTP 302" and inside.requests == []


# --- 4. one total deadline, a size cap -----------------------------------------------------------


def hang(handler, server):
    server.stop.wait(60)  # would hold the worker a minute


def drip(handler, server):
    """Headers at once, then a byte every 0.2 s: no single read ever times out."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    while not server.stop.wait(0.2):
        handler.wfile.write(b"x")
        handler.wfile.flush()


@pytest.mark.django_db
@pytest.mark.parametrize("respond", [hang, drip], ids=["hangs", "drips"])
def test_a_slow_receiver_is_cut_at_the_deadline(respond, outbound_rules, webhook_row, local_server):
    server = local_server(respond)
    outbound_rules(private=True, http=True, timeout=1)
    _, row = webhook_row(server.url)
    started = time.monotonic()
    assert notification_deliver(notification_id=row.pk) == "pending"
    assert time.monotonic() - started < 10  # the receiver would have held us 60 s
    row.refresh_from_db()
    assert row.last_error.startswith("Webhook timed out") and row.attempts == 1


def flood(handler, server):
    size = 64 * 1024 * 1024
    handler.send_response(500)
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    chunk = b"SECRET" * 10_000
    while server.bytes_sent < size and not server.stop.is_set():
        handler.wfile.write(chunk)
        server.bytes_sent += len(chunk)


@pytest.mark.django_db
def test_a_huge_reply_is_cut_at_the_cap(outbound_rules, webhook_row, local_server):
    server = local_server(flood)
    outbound_rules(private=True, http=True, timeout=5)
    response = outbound.post(server.url, content=b"{}", headers={}, timeout=5, max_response_bytes=CAP)
    assert response.status_code == 500 and response.truncated and len(response.body) == CAP
    time.sleep(0.2)
    assert server.bytes_sent < 16 * 1024 * 1024  # we hung up; the 64 MiB were never read

    server.bytes_sent = 0
    _, row = webhook_row(server.url)
    assert notification_deliver(notification_id=row.pk) == "pending"
    row.refresh_from_db()
    assert row.last_error == "Webhook answered HTTP 500"
    time.sleep(0.2)
    assert server.bytes_sent < 16 * 1024 * 1024


# --- 5. no row lock held while waiting on the network --------------------------------------------


def lock_probe(handler, server):
    """From inside the send: can another connection lock the notification row at once?"""
    key = handler.headers["X-Notification-Id"]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT status FROM notifications_notification WHERE dedupe_key = %s FOR UPDATE NOWAIT", [key]
            )
            server.probe = ("free", cursor.fetchone()[0])
    except OperationalError as exc:
        server.probe = ("locked", str(exc))
    finally:
        connection.close()  # this thread's own connection
    answer(200)(handler, server)


def pending_again(row: Notification, url: str) -> None:
    """With transaction=True the task run at commit (eager) may have delivered the row already: make it
    due again, pointed at ``url``, to deliver it by hand."""
    WebhookEndpoint.objects.filter(pk=row.webhook_endpoint_id).update(url=url)
    Notification.objects.filter(pk=row.pk).update(status="pending", sent_at=None, attempts=0, last_error="")


@pytest.mark.postgres  # FOR UPDATE NOWAIT: SQLite has no row locks
@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_webhook_is_sent(outbound_rules, webhook_row, local_server):
    server = local_server(lock_probe)
    outbound_rules(private=True, http=True)
    _, row = webhook_row(server.url)
    pending_again(row, server.url)
    server.probe = None
    assert notification_deliver(notification_id=row.pk) == "sent"
    assert server.probe == ("free", "sending")  # claimed (leased), but not locked
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 1 and row.sending_until is None


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_row_at_once(outbound_rules, webhook_row, local_server):
    gate = threading.Event()

    def slow(handler, server):
        gate.wait(5)
        answer(200)(handler, server)

    outbound_rules(private=True, http=True)
    _, row = webhook_row(local_server(answer(200)).url)
    server = local_server(slow)
    pending_again(row, server.url)
    results = []

    def deliver():
        try:
            results.append(notification_deliver(notification_id=row.pk))
        finally:
            connection.close()

    first = threading.Thread(target=deliver)
    first.start()
    for _ in range(100):  # until the first worker is inside the send
        if server.requests:
            break
        time.sleep(0.05)
    results.append(notification_deliver(notification_id=row.pk))  # a duplicate message meanwhile
    gate.set()
    first.join(10)
    assert sorted(results) == ["in_flight", "sent"] and len(server.requests) == 1


# --- 6. webhook secrets --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_secret_is_generated_at_creation_and_rotated_with_a_grace_period(outbound_rules, settings):
    settings.OMS = {**settings.OMS, "WEBHOOK_SECRET_GRACE_SECONDS": 3600}
    channel = SalesChannelFactory(code="shop")
    endpoint, first = webhook_endpoint_create(channel=channel, url="https://hooks.example.com/oms", events=["ready"])
    endpoint.refresh_from_db()
    assert len(first) >= 40 and endpoint.secret == first and endpoint.previous_secret == ""
    endpoint, rotated = webhook_endpoint_secret_rotate(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated != first and len(rotated) >= 40 and endpoint.previous_secret == first
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(minutes=59)
    assert endpoint.secrets_at(timezone.now()) == [rotated, first]
    assert endpoint.secrets_at(timezone.now() + timedelta(hours=2)) == [rotated]


def _verifies(secret: str, headers: dict, body: bytes, header: str = "X-Signature") -> bool:
    expected = webhook_signature(secret=secret, timestamp=headers["X-Signature-Timestamp"], body=body)
    return header in headers and hmac.compare_digest(expected, headers[header])


@pytest.mark.django_db
def test_during_the_grace_both_secrets_sign_after_it_only_the_new(outbound_rules, webhook_row, local_server, settings):
    server = local_server(answer(200))
    outbound_rules(private=True, http=True)
    settings.OMS = {**settings.OMS, "WEBHOOK_SECRET_GRACE_SECONDS": 3600}
    _, row = webhook_row(server.url)
    endpoint = row.webhook_endpoint
    old = endpoint.secret
    endpoint, new = webhook_endpoint_secret_rotate(endpoint=endpoint)
    assert notification_deliver(notification_id=row.pk) == "sent"
    sent = server.requests[-1]
    assert _verifies(new, sent["headers"], sent["body"])  # a receiver that switched already
    assert _verifies(old, sent["headers"], sent["body"], "X-Signature-Previous")  # one that has not yet
    assert not _verifies(old, sent["headers"], sent["body"])

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())  # grace over
    Notification.objects.filter(pk=row.pk).update(status="pending", sent_at=None)
    assert notification_deliver(notification_id=row.pk) == "sent"
    sent = server.requests[-1]
    assert _verifies(new, sent["headers"], sent["body"])
    assert "X-Signature-Previous" not in sent["headers"]


@pytest.mark.django_db
def test_an_endpoint_without_a_secret_cannot_exist():
    """Webhooks are always signed: the database refuses an endpoint with no secret."""
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEndpointFactory(secret="")


@pytest.mark.django_db
def test_a_deleted_or_switched_off_endpoint_is_not_sent_to(outbound_rules, webhook_row, local_server):
    server = local_server(answer(200))
    outbound_rules(private=True, http=True)
    _, row = webhook_row(server.url)
    WebhookEndpoint.objects.filter(pk=row.webhook_endpoint_id).update(is_active=False)
    assert notification_deliver(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "The webhook endpoint is switched off."
    WebhookEndpoint.objects.filter(pk=row.webhook_endpoint_id).delete()
    row.refresh_from_db()
    assert row.webhook_endpoint_id is None  # the customer's history stays
    Notification.objects.filter(pk=row.pk).update(status="pending")
    assert notification_deliver(notification_id=row.pk) == "failed" and server.requests == []
    row.refresh_from_db()
    assert row.last_error == "The webhook endpoint was deleted."


@pytest.mark.django_db
def test_admin_shows_the_secret_once_and_never_renders_it(admin_client, outbound_rules):
    channel = SalesChannelFactory(code="shop")
    form = {
        "channel": channel.pk,
        "url": "https://hooks.example.com/oms",
        "events": ["ready", "shipped"],
        "is_active": "on",
        "secret": "chosen-by-staff",  # not a field of the form: ignored
    }
    response = admin_client.post(reverse("admin:notifications_webhookendpoint_add"), form, follow=True)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(channel=channel)
    secret = endpoint.secret
    assert len(secret) >= 40 and secret != "chosen-by-staff" and endpoint.events == ["ready", "shipped"]
    assert secret in response.content.decode()  # the message, once

    change = admin_client.get(reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]))
    assert secret not in change.content.decode() and 'name="secret"' not in change.content.decode()

    response = admin_client.post(
        reverse("admin:notifications_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != secret and endpoint.secret in response.content.decode()
    assert endpoint.previous_secret == secret


@pytest.mark.django_db
def test_admin_refuses_an_internal_webhook_url(admin_client, outbound_rules):
    channel = SalesChannelFactory(code="shop")
    form = {"channel": channel.pk, "url": "http://169.254.169.254/latest/meta-data/", "events": ["ready"]}
    response = admin_client.post(reverse("admin:notifications_webhookendpoint_add"), form)
    assert response.status_code == 200 and "not allowed" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


# --- 7. e-mail subjects are plain text -----------------------------------------------------------


@pytest.mark.django_db
def test_email_subject_is_plain_text(make_product, place, customer):
    product = make_product(stock=0, name='27" monitor <Pro> & stand\nBcc: victim@example.com')
    order = place({product.sku: 1}, customer=customer)
    row = Notification.objects.get(order=order, channel="email")
    assert notification_deliver(notification_id=row.pk) == "sent"
    [message] = mail.outbox
    assert '27" monitor <Pro> & stand Bcc: victim@example.com is on backorder' in message.subject
    assert "&quot;" not in message.subject and "&amp;" not in message.subject and "\n" not in message.subject
    assert message.to == [customer.email] and not message.bcc
    assert "27&quot; monitor" in message.alternatives[0][0]  # the HTML part stays escaped
