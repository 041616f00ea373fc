"""Backorder history. Every event is written here, in the caller's transaction, and announced to the apps that act
on it (``signals.backorder_events_recorded``: notifications writes the customer's outbox rows) in that same
transaction."""

from __future__ import annotations

from .models import BackorderEvent
from .signals import backorder_events_recorded


def events_record(events: list[BackorderEvent]) -> list[BackorderEvent]:
    created = BackorderEvent.objects.bulk_create(events)
    if created:
        backorder_events_recorded.send(sender=BackorderEvent, events=created)
    return created
