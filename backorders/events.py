"""Backorder history. Every event is written here, in the caller's transaction, and the customer
notifications it causes are written to the outbox in that same transaction."""

from __future__ import annotations

from .models import BackorderEvent


def events_record(events: list[BackorderEvent]) -> list[BackorderEvent]:
    from notifications.services import notifications_from_backorder_events

    created = BackorderEvent.objects.bulk_create(events)
    notifications_from_backorder_events(events=created)
    return created
