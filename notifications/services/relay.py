"""The relay: rows whose send task was lost (broker down, worker died) are claimed and published again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Notification
from .outbox import notifications_enqueue

# --- the relay ----------------------------------------------------------------------------------


def notifications_relay_claim(*, batch: int | None = None) -> list[int]:
    """Claim due rows for delivery (SELECT … FOR UPDATE SKIP LOCKED: several relays share the work).

    Due: pending and past its next attempt (first attempts get a grace period for the task enqueued at
    commit); or being sent by a worker whose lease ran out (the worker died: the lease is the delivery's
    deadline plus a margin, so this is bounded); or handed to the broker by a relay but never started within
    ``NOTIFY_CLAIM_TIMEOUT_SECONDS`` (a lost message — a message merely waiting in a long queue is not
    published twice every minute).
    """
    now = timezone.now()
    grace = timedelta(seconds=settings.OMS["NOTIFY_SWEEP_GRACE_SECONDS"])
    stale = now - timedelta(seconds=settings.OMS["NOTIFY_CLAIM_TIMEOUT_SECONDS"])
    sending = Notification.Status.SENDING
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=Notification.Status.PENDING, next_attempt_at__lte=now - grace)
                | Q(status=sending, sending_until__lte=now)
                | Q(status=sending, sending_until__isnull=True, claimed_at__lte=stale)
            )
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[: batch or settings.OMS["NOTIFY_RELAY_BATCH"]]
        )
        if ids:
            # Only rows without a live lease are claimed: a run-out lease is dropped (its worker, if it ever
            # comes back, finds the lease gone and records nothing), so the row now counts as handed to the broker.
            Notification.objects.filter(pk__in=ids).update(status=sending, claimed_at=now, sending_until=None)
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
