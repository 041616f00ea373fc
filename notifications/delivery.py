"""Delivering one outbox row: e-mail through Django's backend, or a signed webhook through httpx.

Idempotent: the row is locked for the whole attempt and its status checked first, so a task that
is delivered twice (or run by two workers at once) sends once; a sent row is never sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

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
        raise TemporaryFailure(f"E-mail not sent: {exc}") from exc


def _send_webhook(notification: Notification) -> None:
    channel = notification.order.channel
    url = channel.webhook_url if channel is not None else ""
    if not url:
        raise PermanentFailure("The sales channel has no webhook URL any more.")
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
        response = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException as exc:
        raise TemporaryFailure(f"Webhook timed out after {timeout}s: {exc!r}") from exc
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"Webhook not reachable: {exc!r}") from exc
    if 200 <= response.status_code < 300:
        return
    detail = f"Webhook answered HTTP {response.status_code}: {response.text[:300]}"
    # 408 and 429 say "try again later"; any other 4xx (and a redirect) will not change by retrying.
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TemporaryFailure(detail)
    raise PermanentFailure(detail)


def notification_deliver(*, notification_id: int) -> str:
    """One delivery attempt. Returns the row's status afterwards ("missing" if there is no such row)."""
    retry_in = None
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("order__channel", "order__customer")
            .filter(pk=notification_id)
            .order_by()
            .first()
        )
        if notification is None:
            return "missing"
        if notification.status not in (ST.PENDING, ST.SENDING):
            return notification.status  # sent (never twice) or failed (waits for a staff retry)
        now = timezone.now()
        if notification.status == ST.PENDING and notification.next_attempt_at > now + timedelta(seconds=1):
            return "not_due"  # a retry is scheduled later; this is an early or duplicate message
        # Rendered once, before the first attempt, and stored: every retry sends exactly the same message.
        notification_render(notification)
        notification.attempts += 1
        try:
            if notification.channel == Notification.Channel.EMAIL:
                _send_email(notification)
            else:
                _send_webhook(notification)
        except PermanentFailure as exc:
            notification.status = ST.FAILED
            notification.last_error = str(exc)
        except TemporaryFailure as exc:
            notification.last_error = str(exc)
            if notification.attempts >= settings.OMS["NOTIFY_MAX_ATTEMPTS"]:
                notification.status = ST.FAILED
                notification.last_error = f"Gave up after {notification.attempts} attempts. {exc}"
            else:
                retry_in = retry_delay(notification.attempts)
                notification.status = ST.PENDING
                notification.next_attempt_at = now + timedelta(seconds=retry_in)
        else:
            notification.status = ST.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
        notification.claimed_at = None
        notification.save(
            update_fields=[
                "status",
                "attempts",
                "last_error",
                "next_attempt_at",
                "sent_at",
                "claimed_at",
                *RENDERED_FIELDS,
            ]
        )
        if notification.status == ST.FAILED:
            logger.warning("Notification %s failed: %s", notification.pk, notification.last_error)
        if retry_in is not None:
            from .services import notifications_enqueue

            transaction.on_commit(lambda: notifications_enqueue(notification_ids=[notification_id], countdown=retry_in))
    return notification.status
