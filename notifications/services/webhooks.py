"""A sales channel's webhook endpoints: create, change, delete, rotate the secret, ping (docs/notifications.md).

The secret is generated here (``secrets.token_urlsafe(32)``, 256 bits) and returned to be shown once, at creation
and at each rotation. A rotation keeps the previous secret signing (``X-Signature-Previous``) for
``WEBHOOK_SECRET_GRACE_SECONDS``, so a receiver can switch without dropping a delivery. URLs pass the outbound
rules when saved (``core.outbound.validate_outbound_url``) and again at every connect.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from orders.models import SalesChannel

from ..delivery import PermanentFailure, TemporaryFailure, webhook_body, webhook_post, webhook_signed_headers
from ..exceptions import WebhookEndpointLimit, WebhookUrlNotAllowed
from ..models import EMAIL_ONLY_EVENTS, Notification, WebhookEndpoint

PING_EVENT = "ping"


def _secret_new() -> str:
    return secrets.token_urlsafe(32)  # 256 bits, URL-safe: ~43 characters


def _url_clean(url: str) -> str:
    url = (url or "").strip()
    try:
        return WebhookEndpoint._meta.get_field("url").clean(url, None)
    except ValidationError as exc:
        raise WebhookUrlNotAllowed(
            "This webhook URL is not allowed: an https:// URL of a public host is required.",
            details={"errors": {"url": exc.messages}},
        ) from exc


def _events_clean(events) -> list[str]:
    """Known event types, each once, in the order Notification.Event lists them; at least one."""
    values = [value for value in Notification.Event.values if value not in EMAIL_ONLY_EVENTS]
    unknown = sorted({str(e) for e in events or []} - set(values))
    if unknown:
        raise InvalidInput(f"Unknown event type(s): {', '.join(unknown)}.", details={"errors": {"events": unknown}})
    chosen = [value for value in values if value in set(events or [])]
    if not chosen:
        raise InvalidInput("Subscribe to at least one event type.", details={"errors": {"events": ["required"]}})
    return chosen


@transaction.atomic
def webhook_endpoint_create(
    *, channel, url: str, events: list[str], is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of ``channel``; returns it and its secret (to be shown once)."""
    url = _url_clean(url)
    events = _events_clean(events)
    # The channel row serialises concurrent creations, so the cap holds.
    SalesChannel.objects.select_for_update().filter(pk=channel.pk).first()
    limit = settings.OMS["WEBHOOK_ENDPOINTS_PER_CHANNEL"]
    if WebhookEndpoint.objects.filter(channel_id=channel.pk).count() >= limit:
        raise WebhookEndpointLimit(f"A sales channel may have at most {limit} webhook endpoints.")
    secret = _secret_new()
    endpoint = WebhookEndpoint.objects.create(
        channel=channel, url=url, events=events, is_active=is_active, secret=secret
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str | None = None, events: list[str] | None = None, is_active: bool | None = None
) -> WebhookEndpoint:
    """Change what was given. A new URL starts its circuit breaker afresh (``services.endpoints``); rows already
    written go to the endpoint's URL as it is when they are sent."""
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("channel").get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = _url_clean(url)
    if events is not None:
        endpoint.events = _events_clean(events)
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "events", "is_active", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its breaker state. Its notifications stay (the customer's history) without an
    endpoint: one still waiting fails ("The webhook endpoint was deleted.")."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new secret, returned to be shown once. The current one becomes the previous secret and keeps signing
    (``X-Signature-Previous``) until the grace period ends; a previous secret still in its grace is dropped."""
    endpoint = WebhookEndpoint.objects.select_for_update().select_related("channel").get(pk=endpoint.pk)
    secret = _secret_new()
    grace = settings.OMS["WEBHOOK_SECRET_GRACE_SECONDS"]
    endpoint.previous_secret = endpoint.secret if grace > 0 else ""
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(seconds=grace) if grace > 0 else None
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint, secret


@dataclass(frozen=True)
class PingResult:
    delivered: bool
    status_code: int | None
    error: str  # our own short words, never the receiver's
    duration_ms: int
    message_id: str


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> PingResult:
    """Send a signed test event (``ping``) now, through the outbound client with its total deadline, and say
    what happened. No transaction is open during the call; nothing is written (no notification, no attempt row,
    no change to the endpoint's breaker). Works on a switched-off endpoint too, to test it before switching it on.
    """
    message_id = f"ping:{endpoint.pk}:{secrets.token_hex(8)}"
    payload = {
        "id": message_id,
        "event": PING_EVENT,
        "occurred_at": timezone.now().isoformat(),
        "endpoint": {"id": endpoint.pk, "url": endpoint.url, "events": list(endpoint.events)},
    }
    body = webhook_body(payload)
    headers = webhook_signed_headers(endpoint=endpoint, body=body, event=PING_EVENT, message_id=message_id)
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        label = f"Ping of endpoint {endpoint.pk}"
        status_code = webhook_post(url=endpoint.url, body=body, headers=headers, label=label)
    except (PermanentFailure, TemporaryFailure) as exc:
        return PingResult(False, exc.status_code, str(exc), took(), message_id)
    return PingResult(True, status_code, "", took(), message_id)
