"""The relay: rows whose send task was lost (broker down, worker died) are claimed and published again."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Notification
from .outbox import _conf, notifications_enqueue

# --- the relay ----------------------------------------------------------------------------------


def notifications_relay_claim(*, batch: int | None = None) -> list[int]:
    """Claim due rows for delivery (SELECT … FOR UPDATE SKIP LOCKED: several relays share the work).

    Due: pending and past its next attempt (first attempts get a grace period for the task enqueued at
    commit), or claimed earlier but never delivered (a lost message or a worker that died).
    """
    now = timezone.now()
    grace = timedelta(seconds=_conf("NOTIFY_SWEEP_GRACE_SECONDS"))
    stale = now - timedelta(seconds=_conf("NOTIFY_CLAIM_TIMEOUT_SECONDS"))
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Notification.Status.PENDING, next_attempt_at__lte=now - grace)
                | Q(status=Notification.Status.SENDING, claimed_at__lte=stale)
            )
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[: batch or _conf("NOTIFY_RELAY_BATCH")]
        )
        if ids:
            Notification.objects.filter(pk__in=ids).update(status=Notification.Status.SENDING, claimed_at=now)
    return ids


def notifications_relay(*, batch: int | None = None, max_rows: int = 50_000) -> int:
    """Claim and enqueue due rows until none are left. Rows that could not be published go back to pending."""
    total = 0
    while total < max_rows:
        ids = notifications_relay_claim(batch=batch)
        if not ids:
            break
        published = notifications_enqueue(notification_ids=ids)
        total += published
        if published < len(ids):
            Notification.objects.filter(pk__in=ids[published:], status=Notification.Status.SENDING).update(
                status=Notification.Status.PENDING, claimed_at=None
            )
            break
    return total
