"""Delivering one outbox row: e-mail through Django's backend, or a signed webhook through the outbound client.

Idempotent, and no lock is held while waiting on the network. An attempt is three steps:

1. claim (short transaction, row locked): check the status, render once, count the attempt and take a
   lease (``sending_until``) — a second worker that finds a live lease does nothing;
2. send, outside any transaction (e-mail, or ``core.outbound.post`` with its total deadline);
3. record (short transaction, row locked): the result, if the lease is still ours.

A sent row is never sent again. A worker that dies mid-send leaves the lease; it runs out together with
the relay's claim timeout, and the relay offers the row again.
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
from django.db import transaction
from django.utils import timezone

from core import outbound

from .models import Notification
from .rendering import RENDERED_FIELDS, notification_render

logger = logging.getLogger(__name__)

ST = Notification.Status


class PermanentFailure(Exception):
    """Retrying cannot help (a 4xx answer, no address configured)."""


class TemporaryFailure(Exception):
    """Worth another try later (5xx, timeout, connection refused, SMTP down)."""


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``f"{timestamp}.{body}"`` with the channel's secret (see docs/notifications.md)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def retry_delay(attempts: int) -> int:
    """Exponential backoff after the n-th failed attempt, capped."""
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


def _send_webhook(notification: Notification) -> None:
    """POST the payload. Errors name only what happened, in our words: the channel sees ``last_error``,
    so nothing the receiver said (its body, a network error's text) goes there."""
    channel = notification.order.channel
    url = channel.webhook_url if channel is not None else ""
    if not url:
        raise PermanentFailure("The sales channel has no webhook URL any more.")
    if not channel.webhook_secret:
        raise PermanentFailure("The sales channel has no webhook secret: webhooks are always signed.")
    body = webhook_body(notification.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "oms-notifications/1",
        "X-Notification-Id": notification.dedupe_key,
        "X-Event": notification.event,
        "X-Signature-Timestamp": timestamp,
        "X-Signature": webhook_signature(secret=channel.webhook_secret, timestamp=timestamp, body=body),
    }
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
        logger.warning("Notification %s: webhook address not allowed: %s", notification.pk, exc.detail)
        raise PermanentFailure("Webhook address not allowed") from exc
    except outbound.OutboundTimeout as exc:
        logger.info("Notification %s: webhook timed out: %s", notification.pk, exc.detail)
        raise TemporaryFailure(f"Webhook timed out (no complete answer within {timeout} s)") from exc
    except outbound.OutboundError as exc:
        logger.info("Notification %s: webhook not reachable: %s", notification.pk, exc.detail)
        raise TemporaryFailure("Webhook not reachable") from exc
    if 200 <= response.status_code < 300:
        return
    logger.info(
        "Notification %s: webhook answered HTTP %s: %r",
        notification.pk,
        response.status_code,
        response.body[:300],  # server log only
    )
    detail = f"Webhook answered HTTP {response.status_code}"
    # 408 and 429 say "try again later"; any other 4xx (and a redirect) will not change by retrying.
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TemporaryFailure(detail)
    raise PermanentFailure(detail)


@dataclass(frozen=True)
class _Outcome:
    sent: bool = False
    permanent: bool = False
    error: str = ""


def _lease_seconds() -> int:
    # The relay offers a row claimed this long ago again; the lease ends with it, never before.
    return settings.OMS["NOTIFY_CLAIM_TIMEOUT_SECONDS"]


def _claim(notification_id: int) -> tuple[Notification | None, str]:
    """Step 1: the row to send, with its lease taken, or (None, why not)."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("order__channel", "order__customer")
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
        # Rendered once, before the first attempt, and stored: every retry sends exactly the same message.
        notification_render(notification)
        notification.attempts += 1  # counted at the claim: a worker that dies mid-send used an attempt
        notification.status = ST.SENDING
        notification.claimed_at = now
        notification.sending_until = now + timedelta(seconds=_lease_seconds())
        notification.save(update_fields=["status", "attempts", "claimed_at", "sending_until", *RENDERED_FIELDS])
    return notification, ""


def _send(notification: Notification) -> _Outcome:
    """Step 2, outside any transaction."""
    try:
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        else:
            _send_webhook(notification)
    except PermanentFailure as exc:
        return _Outcome(permanent=True, error=str(exc))
    except TemporaryFailure as exc:
        return _Outcome(error=str(exc))
    return _Outcome(sent=True)


def _record(notification_id: int, lease, outcome: _Outcome) -> str:
    """Step 3: write the result, if the lease is still ours."""
    retry_in = None
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).order_by().first()
        if notification is None:
            return "missing"
        if notification.sending_until != lease:
            logger.warning("Notification %s: lease lost during the send; result not recorded", notification_id)
            return notification.status
        now = timezone.now()
        if outcome.sent:
            notification.status = ST.SENT
            notification.sent_at = now
            notification.last_error = ""
        elif outcome.permanent:
            notification.status = ST.FAILED
            notification.last_error = outcome.error
        elif notification.attempts >= settings.OMS["NOTIFY_MAX_ATTEMPTS"]:
            notification.status = ST.FAILED
            notification.last_error = f"Gave up after {notification.attempts} attempts. {outcome.error}"
        else:
            retry_in = retry_delay(notification.attempts)
            notification.status = ST.PENDING
            notification.last_error = outcome.error
            notification.next_attempt_at = now + timedelta(seconds=retry_in)
        notification.claimed_at = None
        notification.sending_until = None
        notification.save(
            update_fields=["status", "last_error", "next_attempt_at", "sent_at", "claimed_at", "sending_until"]
        )
        if notification.status == ST.FAILED:
            logger.warning("Notification %s failed: %s", notification.pk, notification.last_error)
        if retry_in is not None:
            from .services import notifications_enqueue

            transaction.on_commit(lambda: notifications_enqueue(notification_ids=[notification_id], countdown=retry_in))
    return notification.status


def notification_deliver(*, notification_id: int) -> str:
    """One delivery attempt. Returns the row's status afterwards, or why nothing was sent ("missing",
    "not_due", "in_flight")."""
    notification, skipped = _claim(notification_id)
    if notification is None:
        return skipped
    outcome = _send(notification)
    return _record(notification_id, notification.sending_until, outcome)
