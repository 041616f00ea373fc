"""Staff and customer actions on notifications: retry a failed one, send a manual update, set preferences."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.actors import actor_label
from core.errors import InvalidInput, InvalidTransition

from ..models import Notification, NotificationPreference
from .outbox import E, notifications_enqueue_on_commit

# --- staff actions ------------------------------------------------------------------------------


@transaction.atomic
def notification_retry(*, notification: Notification, user=None) -> Notification:
    """Give a failed (or stuck) notification a fresh set of automatic attempts, and send it after commit.

    The history stays: ``attempts`` keeps counting (every attempt has its ``NotificationAttempt`` row), and the
    retry limit (NOTIFY_MAX_ATTEMPTS) counts again from here (``attempts_before_retry``)."""
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status == Notification.Status.SENT:
        raise InvalidTransition(
            f"Notification {notification.pk} was already sent; it is never sent twice.",
            details={"status": notification.status},
        )
    if notification.sending_until is not None and notification.sending_until > timezone.now():
        raise InvalidTransition(
            f"Notification {notification.pk} is being sent right now; wait for the result.",
            details={"status": notification.status},
        )
    notification.status = Notification.Status.PENDING
    notification.attempts_before_retry = notification.attempts
    notification.next_attempt_at = timezone.now()
    notification.claimed_at = None
    notification.sending_until = None
    notification.save(
        update_fields=["status", "attempts_before_retry", "next_attempt_at", "claimed_at", "sending_until"]
    )
    notifications_enqueue_on_commit(notification_ids=[notification.pk])
    return notification


MAX_NOTE_LENGTH = 2000


@transaction.atomic
def notification_manual_update(*, backorder, note: str, user) -> list[Notification]:
    """Staff send the customer a free-text update about a backorder (recorded as a backorder event)."""
    from backorders.models import BackorderEvent
    from backorders.services import backorder_event_record

    note = (note or "").strip()
    if not note:
        raise InvalidInput("Write the update for the customer (note is empty).", details={"note": ""})
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            f"The update is too long ({len(note)} characters, at most {MAX_NOTE_LENGTH}).",
            details={"max_length": MAX_NOTE_LENGTH},
        )
    event = backorder_event_record(
        backorder=backorder,
        kind=BackorderEvent.Kind.NOTE,
        message=f"Update sent to the customer: {note[:400]}",
        data={"customer_update": True, "note": note},
        user=user,
    )
    return list(
        Notification.objects.filter(
            order_id=backorder.order_id,
            event=E.MANUAL_UPDATE,
            dedupe_key__startswith=f"{E.MANUAL_UPDATE}:o{backorder.order_id}:e{event.pk}:",
        )
    )


@transaction.atomic
def notification_preference_set(
    *, customer, regular_updates: bool | None = None, preferred_channel: str | None = None, user=None
):
    if preferred_channel is not None and preferred_channel not in NotificationPreference.Channel.values:
        raise InvalidInput(
            f"Preferred channel must be one of {', '.join(NotificationPreference.Channel.values)}.",
            details={"preferred_channel": preferred_channel},
        )
    preference, _ = NotificationPreference.objects.get_or_create(customer=customer)
    if regular_updates is not None:
        preference.regular_updates = bool(regular_updates)
    if preferred_channel is not None:
        preference.preferred_channel = preferred_channel
    preference.updated_by = actor_label(user)
    preference.save()
    return preference
