"""Delivering one outbox row: e-mail through Django's backend, or a signed webhook through the outbound client.

Idempotent, and no lock is held while waiting on the network. An attempt is three steps:

1. claim (short transaction, row locked): check the status, render once, ask the webhook endpoint's breaker
   (``services.endpoints``: an open or busy endpoint reschedules the row without using an attempt), count the
   attempt, start its ``NotificationAttempt`` row and take a lease (``sending_until``) — a second worker that
   finds a live lease does nothing;
2. send, outside any transaction (e-mail, or ``core.outbound.post`` with its total deadline);
3. record (short transaction, row locked): the result, the attempt's outcome and the endpoint's health, if
   the lease is still ours. A lost database connection here is retried: the send already happened.

A sent row is never sent again. The lease is the delivery's total deadline plus a margin; a worker that dies
mid-send leaves it, and the relay offers the row again once it has run out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.utils import timezone

from core import outbound
from core.queue import DB_CONNECTION_ERRORS

from .models import Notification, NotificationAttempt
from .rendering import RENDERED_FIELDS, notification_render

logger = logging.getLogger(__name__)

ST = Notification.Status


A = NotificationAttempt.Outcome


class PermanentFailure(Exception):
    """Retrying cannot help (a 4xx answer, no address configured)."""

    def __init__(self, message: str, status_code: int | None = None, answered: bool | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.answered = answered  # the endpoint answered (None: not about the endpoint's health)


class TemporaryFailure(Exception):
    """Worth another try later (5xx, timeout, connection refused, SMTP down)."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``f"{timestamp}.{body}"`` with an endpoint's secret (see docs/notifications.md)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def retry_delay(attempts: int) -> int:
    """Exponential backoff after the n-th failed attempt (counted since the last staff retry), capped."""
    base = settings.OMS["NOTIFY_RETRY_BASE_SECONDS"]
    return int(min(base * (2 ** max(0, attempts - 1)), settings.OMS["NOTIFY_RETRY_MAX_SECONDS"]))


def _send_email(notification: Notification) -> None:
    if not notification.recipient:
        raise PermanentFailure("The customer has no e-mail address.")
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        headers={"X-Notification-Id": notification.dedupe_key},
    )
    message.attach_alternative(notification.body_html, "text/html")
    try:
        message.send()
    except OSError as exc:  # smtplib errors are OSErrors: server down, refused, timed out
        logger.warning("Notification %s: e-mail not sent: %r", notification.pk, exc)
        raise TemporaryFailure("E-mail not sent (mail server unavailable)") from exc


def delivery_deadline(channel: str) -> float:
    """The longest one attempt can take: the webhook's total deadline (enforced by core.outbound), or for
    e-mail two SMTP timeouts (EMAIL_TIMEOUT bounds each socket operation; a hung server fails on one)."""
    if channel == Notification.Channel.WEBHOOK:
        return settings.OMS["NOTIFY_WEBHOOK_TIMEOUT_SECONDS"]
    return 2 * (getattr(settings, "EMAIL_TIMEOUT", None) or 30)


def lease_seconds(channel: str) -> float:
    """How long a claimed row is ours: the delivery's deadline plus a margin (recording the result). The relay
    offers a row whose lease ran out again (its worker died)."""
    return delivery_deadline(channel) + settings.OMS["NOTIFY_LEASE_MARGIN_SECONDS"]


def webhook_signed_headers(*, endpoint, body: bytes, event: str, message_id: str) -> dict[str, str]:
    """The headers of one signed delivery: ``X-Signature`` with the endpoint's secret and, during the grace
    period after a rotation, ``X-Signature-Previous`` with the previous one (docs/notifications.md)."""
    timestamp = str(int(time.time()))
    secrets = endpoint.secrets_at(timezone.now())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "oms-notifications/1",
        "X-Notification-Id": message_id,
        "X-Event": event,
        "X-Signature-Timestamp": timestamp,
        "X-Signature": webhook_signature(secret=secrets[0], timestamp=timestamp, body=body),
    }
    if len(secrets) > 1:
        headers["X-Signature-Previous"] = webhook_signature(secret=secrets[1], timestamp=timestamp, body=body)
    return headers


def webhook_post(*, url: str, body: bytes, headers: dict[str, str], label: str) -> int:
    """POST through the outbound client; the 2xx status code, or PermanentFailure/TemporaryFailure. Errors name
    only what happened, in our words: a channel sees them, so nothing the receiver said (its body, a network
    error's text) goes there; ``label`` names the message in the server log."""
    timeout = settings.OMS["NOTIFY_WEBHOOK_TIMEOUT_SECONDS"]
    try:
        response = outbound.post(
            url,
            content=body,
            headers=headers,
            timeout=timeout,
            max_response_bytes=settings.OMS["NOTIFY_WEBHOOK_MAX_RESPONSE_BYTES"],
        )
    except outbound.AddressNotAllowed as exc:
        logger.warning("%s: webhook address not allowed: %s", label, exc.detail)
        raise PermanentFailure("Webhook address not allowed") from exc
    except outbound.OutboundTimeout as exc:
        logger.info("%s: webhook timed out: %s", label, exc.detail)
        raise TemporaryFailure(f"Webhook timed out (no complete answer within {timeout} s)") from exc
    except outbound.OutboundError as exc:
        logger.info("%s: webhook not reachable: %s", label, exc.detail)
        raise TemporaryFailure("Webhook not reachable") from exc
    if 200 <= response.status_code < 300:
        return response.status_code
    logger.info("%s: webhook answered HTTP %s: %r", label, response.status_code, response.body[:300])  # log only
    detail = f"Webhook answered HTTP {response.status_code}"
    # 408 and 429 say "try again later"; any other 4xx (and a redirect) will not change by retrying.
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TemporaryFailure(detail, status_code=response.status_code)
    raise PermanentFailure(detail, status_code=response.status_code, answered=True)


def _send_webhook(notification: Notification) -> int:
    """POST the payload to the row's endpoint, signed with its secret(s)."""
    endpoint = notification.webhook_endpoint
    if endpoint is None:
        raise PermanentFailure("The webhook endpoint was deleted.")
    if not endpoint.is_active:
        raise PermanentFailure("The webhook endpoint is switched off.")
    body = webhook_body(notification.payload)
    headers = webhook_signed_headers(
        endpoint=endpoint, body=body, event=notification.event, message_id=notification.dedupe_key
    )
    return webhook_post(url=endpoint.url, body=body, headers=headers, label=f"Notification {notification.pk}")


@dataclass(frozen=True)
class _Outcome:
    sent: bool = False
    permanent: bool = False
    error: str = ""
    status_code: int | None = None
    # For the endpoint's breaker: True the receiver answered, False it did not (or 5xx/408/429), None no matter.
    answered: bool | None = None
    duration_ms: int = 0


@dataclass(frozen=True)
class _Claim:
    notification: Notification
    lease: object  # the sending_until we wrote
    attempt_id: int
    url: str = ""


def _webhook_url(notification: Notification) -> str:
    endpoint = notification.webhook_endpoint
    return endpoint.url if endpoint is not None and endpoint.is_active else ""


def _defer(notification: Notification, *, until, now) -> None:
    """The endpoint is open or busy: try the row again then, without using an attempt or a network call."""
    from .services import notifications_enqueue

    notification.status = ST.PENDING
    notification.next_attempt_at = until
    notification.claimed_at = None
    notification.sending_until = None
    notification.save(update_fields=["status", "next_attempt_at", "claimed_at", "sending_until"])
    countdown = max(0.0, (until - now).total_seconds())
    transaction.on_commit(lambda: notifications_enqueue(notification_ids=[notification.pk], countdown=countdown))


def _claim(notification_id: int) -> tuple[_Claim | None, str]:
    """Step 1: the row to send, with its lease taken and its attempt started, or (None, why not)."""
    from .services.endpoints import endpoint_admit

    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("order__channel", "order__customer", "webhook_endpoint")
            .filter(pk=notification_id)
            .order_by()
            .first()
        )
        if notification is None:
            return None, "missing"
        if notification.status not in (ST.PENDING, ST.SENDING):
            return None, notification.status  # sent (never twice) or failed (waits for a staff retry)
        now = timezone.now()
        if notification.sending_until is not None and notification.sending_until > now:
            return None, "in_flight"  # another worker is sending it right now; it records the result
        if notification.status == ST.PENDING and notification.next_attempt_at > now + timedelta(seconds=1):
            return None, "not_due"  # a retry is scheduled later; this is an early or duplicate message
        lease = lease_seconds(notification.channel)
        url = ""
        if notification.channel == Notification.Channel.WEBHOOK:
            url = _webhook_url(notification)
            if url:
                retry_at = endpoint_admit(notification=notification, url=url, now=now, lease_seconds=lease)
                if retry_at is not None:
                    _defer(notification, until=retry_at, now=now)
                    return None, "deferred"
        # An attempt still open is one whose worker died (its lease ran out): it is lost.
        NotificationAttempt.objects.filter(notification=notification, outcome=A.IN_FLIGHT).update(outcome=A.LOST)
        # Rendered once, before the first attempt, and stored: every retry sends exactly the same message.
        notification_render(notification)
        notification.attempts += 1  # counted at the claim: a worker that dies mid-send used an attempt
        notification.status = ST.SENDING
        notification.claimed_at = now
        notification.sending_until = now + timedelta(seconds=lease)
        notification.save(update_fields=["status", "attempts", "claimed_at", "sending_until", *RENDERED_FIELDS])
        # Numbered like the counter, and never twice (the history is the record, whatever happened to the counter).
        last = notification.attempt_log.order_by("-number").values_list("number", flat=True).first() or 0
        number = max(notification.attempts, last + 1)
        attempt = NotificationAttempt.objects.create(notification=notification, number=number, started_at=now)
    return _Claim(notification=notification, lease=notification.sending_until, attempt_id=attempt.pk, url=url), ""


def _send(notification: Notification) -> _Outcome:
    """Step 2, outside any transaction."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        status_code = None
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        else:
            status_code = _send_webhook(notification)
    except PermanentFailure as exc:
        return _Outcome(
            permanent=True, error=str(exc), status_code=exc.status_code, answered=exc.answered, duration_ms=took()
        )
    except TemporaryFailure as exc:
        return _Outcome(error=str(exc), status_code=exc.status_code, answered=False, duration_ms=took())
    return _Outcome(sent=True, status_code=status_code, answered=True, duration_ms=took())


def _record(claim: _Claim, outcome: _Outcome) -> str:
    """Step 3: write the result, if the lease is still ours."""
    from .services.endpoints import endpoint_record

    notification_id = claim.notification.pk
    retry_in = None
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).order_by().first()
        if notification is None:
            return "missing"
        now = timezone.now()
        if notification.sending_until != claim.lease:
            logger.warning("Notification %s: lease lost during the send; result not recorded", notification_id)
            return notification.status
        attempts_since_retry = notification.attempts - notification.attempts_before_retry
        if outcome.sent:
            notification.status = ST.SENT
            notification.sent_at = now
            notification.last_error = ""
        elif outcome.permanent:
            notification.status = ST.FAILED
            notification.last_error = outcome.error
        elif attempts_since_retry >= settings.OMS["NOTIFY_MAX_ATTEMPTS"]:
            notification.status = ST.FAILED
            notification.last_error = f"Gave up after {notification.attempts} attempts. {outcome.error}"
        else:
            retry_in = retry_delay(attempts_since_retry)
            notification.status = ST.PENDING
            notification.last_error = outcome.error
            notification.next_attempt_at = now + timedelta(seconds=retry_in)
        notification.claimed_at = None
        notification.sending_until = None
        notification.save(
            update_fields=["status", "last_error", "next_attempt_at", "sent_at", "claimed_at", "sending_until"]
        )
        NotificationAttempt.objects.filter(pk=claim.attempt_id).update(
            finished_at=now,
            outcome=A.SENT if outcome.sent else A.PERMANENT_FAILURE if outcome.permanent else A.TEMPORARY_FAILURE,
            status_code=outcome.status_code,
            error=outcome.error[:300],
            duration_ms=outcome.duration_ms,
        )
        # The row as it is now: an endpoint deleted meanwhile has set it to None (and taken its health with it).
        if claim.url and outcome.answered is not None and notification.webhook_endpoint_id is not None:
            endpoint_record(
                endpoint_id=notification.webhook_endpoint_id,
                url=claim.url,
                answered=outcome.answered,
                error=outcome.error,
                now=now,
            )
        if notification.status == ST.FAILED:
            logger.warning("Notification %s failed: %s", notification.pk, notification.last_error)
        if retry_in is not None:
            from .services import notifications_enqueue

            transaction.on_commit(lambda: notifications_enqueue(notification_ids=[notification_id], countdown=retry_in))
    return notification.status


def _record_surviving_a_lost_connection(claim: _Claim, outcome: _Outcome, tries: int = 5) -> str:
    """The message went out: its result must be written, or the row would be sent again once the lease ends.
    A lost database connection (restart, failover, killed backend) is retried on a new one, with backoff, for
    as long as the lease leaves time."""
    for attempt in range(1, tries + 1):
        try:
            return _record(claim, outcome)
        except DB_CONNECTION_ERRORS:
            if attempt == tries or connection.in_atomic_block:
                raise
            logger.warning("Notification %s: database connection lost while recording; retrying", claim.notification.pk)
            connection.close()  # the next query opens a new connection
            time.sleep(min(0.2 * 2**attempt, 2.0))
    raise AssertionError("unreachable")


def notification_deliver(*, notification_id: int) -> str:
    """One delivery attempt. Returns the row's status afterwards, or why nothing was sent ("missing",
    "not_due", "in_flight", "deferred": its webhook endpoint is open or busy)."""
    claim, skipped = _claim(notification_id)
    if claim is None:
        return skipped
    outcome = _send(claim.notification)
    return _record_surviving_a_lost_connection(claim, outcome)
