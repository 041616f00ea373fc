"""Backorder history. Every event is written here, in the caller's transaction, and announced to the apps that act
on it (``signals.backorder_events_recorded``: notifications writes the customer's outbox rows) in that same
transaction."""

from __future__ import annotations

from .models import BackorderEvent
from .signals import backorder_events_recorded


def events_record(events: list[BackorderEvent], *, loaded: bool = False) -> list[BackorderEvent]:
    """Write the events and announce them. ``loaded``: each event's backorder is the instance just written, with
    its product and order (and the order's customer and channel) at hand, so listeners need not read them again."""
    created = BackorderEvent.objects.bulk_create(events)
    events_announce(created, loaded=loaded)
    return created


def events_announce(events: list[BackorderEvent], *, loaded: bool = False) -> None:
    """Tell the listeners about events just written (by ``events_record``, or set-based by the caller)."""
    if events:
        backorder_events_recorded.send(sender=BackorderEvent, events=events, loaded=loaded)
