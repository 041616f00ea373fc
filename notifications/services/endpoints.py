"""Webhook endpoints as a whole: a circuit breaker and a cap on concurrent sends per endpoint (WebhookEndpoint).

One slow or failing receiver must not hold up everyone else (docs/operations.md):

- **bulkhead**: at most ``NOTIFY_ENDPOINT_MAX_IN_FLIGHT`` sends to one endpoint at a time; a further row waits a
  moment (``NOTIFY_ENDPOINT_BUSY_DELAY_SECONDS``, jittered, at least 1.5 s) without using an attempt, so a hanging
  receiver holds at most that many webhook worker slots while the others serve every other endpoint;
- **circuit breaker**: after ``NOTIFY_BREAKER_FAILURES`` failures in a row (timeouts, unreachable, 5xx/408/429) the
  endpoint is open for a cool-down (``NOTIFY_BREAKER_COOLDOWN_SECONDS``, doubled at each further failure, capped
  by ``NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS``); its rows are rescheduled to when it half-opens, without using an
  attempt and without a network call. Half-open, one probe goes out; its success closes the breaker.

The state lives in ``WebhookEndpointHealth``, changed only in the short claim and record transactions of the
delivery (row locks in the order notification → endpoint), never across the network call.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from ..models import Notification, WebhookEndpointHealth


def _conf(name: str):
    return settings.OMS[name]


def breaker_cooldown(*, consecutive_failures: int) -> int:
    """Seconds the endpoint stays open after this many failures in a row (threshold reached: the base)."""
    over = max(0, consecutive_failures - _conf("NOTIFY_BREAKER_FAILURES"))
    base = _conf("NOTIFY_BREAKER_COOLDOWN_SECONDS")
    return int(min(base * (2 ** min(over, 30)), _conf("NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS")))


def _health_locked(*, endpoint_id: int, url: str) -> WebhookEndpointHealth:
    """The endpoint's row, locked (created if missing); a changed URL starts afresh."""
    WebhookEndpointHealth.objects.bulk_create(
        [WebhookEndpointHealth(endpoint_id=endpoint_id, url=url)], ignore_conflicts=True
    )
    health = WebhookEndpointHealth.objects.select_for_update().get(endpoint_id=endpoint_id)
    if health.url != url:
        health.url = url
        health.consecutive_failures = 0
        health.open_until = None
        health.last_error = ""
        health.save(update_fields=["url", "consecutive_failures", "open_until", "last_error"])
    return health


def endpoint_admit(*, notification: Notification, url: str, now: datetime, lease_seconds: float) -> datetime | None:
    """May this webhook be sent now? None if so, else when to try it again. Runs inside the caller's claim
    transaction (the notification row is locked); takes the endpoint row's lock for the rest of it."""
    assert transaction.get_connection().in_atomic_block, "call inside the claim transaction"
    endpoint_id = notification.webhook_endpoint_id
    health = _health_locked(endpoint_id=endpoint_id, url=url)
    if health.open_until is not None and health.open_until > now:
        return health.open_until  # open (or a half-open probe is out): wait until it half-opens
    if health.consecutive_failures >= _conf("NOTIFY_BREAKER_FAILURES"):
        # Half-open: this send is the probe. Hold the others off for its lease; the result decides.
        health.open_until = now + timedelta(seconds=lease_seconds)
        health.save(update_fields=["open_until"])
        return None
    in_flight = (
        Notification.objects.filter(
            channel=Notification.Channel.WEBHOOK,
            status=Notification.Status.SENDING,
            sending_until__gt=now,
            webhook_endpoint_id=endpoint_id,
        )
        .exclude(pk=notification.pk)
        .count()
    )
    if in_flight >= _conf("NOTIFY_ENDPOINT_MAX_IN_FLIGHT"):
        # Jittered, and never under 1.5 s: a message that arrives early (or runs at once, eagerly) finds the row
        # not due yet rather than deferring it again in a loop.
        delay = max(1.5, _conf("NOTIFY_ENDPOINT_BUSY_DELAY_SECONDS") * random.uniform(0.75, 1.5))  # noqa: S311
        return now + timedelta(seconds=delay)
    return None


def endpoint_record(*, endpoint_id: int, url: str, answered: bool, error: str, now: datetime) -> None:
    """The result of one send to the endpoint: ``answered`` (any answer but 5xx/408/429) closes the breaker; a
    failure counts, and opens it at the threshold. Runs inside the caller's record transaction."""
    health = _health_locked(endpoint_id=endpoint_id, url=url)
    if answered:
        if health.consecutive_failures or health.open_until is not None:
            health.consecutive_failures = 0
            health.open_until = None
        health.last_success_at = now
        health.save(update_fields=["consecutive_failures", "open_until", "last_success_at"])
        return
    health.consecutive_failures += 1
    health.last_failure_at = now
    health.last_error = error[:300]
    if health.consecutive_failures >= _conf("NOTIFY_BREAKER_FAILURES"):
        health.open_until = now + timedelta(seconds=breaker_cooldown(consecutive_failures=health.consecutive_failures))
    health.save(update_fields=["consecutive_failures", "last_failure_at", "last_error", "open_until"])
