"""Domain events of backorders. Higher apps connect to them in their ``AppConfig.ready()``; backorders never
imports them. Every one is sent inside the writer's transaction, so what a receiver writes (outbox rows) commits or
rolls back with the change itself: no customer update can be lost or sent for a change that never happened.

- ``backorder_events_recorded(events)``: history rows were just written (created, cancelled, priority, …).
- ``eta_events_recorded(product_id, first_event_id, last_event_id)``: a chunk of ``eta_changed`` events of one
  product was written set-based by an ETA recompute, with ids in that range (the chunk holds the product's stock
  lock, so no other event of the product lands inside it). A receiver records what must follow and may return a
  follow-up: a callable with a ``merge(other)`` method. The recompute merges the follow-ups of all its chunks (per
  type) and calls each once after its last chunk, inside no transaction (notifications: the outbox rows of the
  whole rewrite in one statement, outside the stock lock, and one publish).
- ``allocation_events_recorded(kind, product_id, first_event_id, last_event_id)``: the allocation engine wrote a
  contiguous range of events for one product (set-based); receivers record what must follow for them.
"""

from django.dispatch import Signal

backorder_events_recorded = Signal()
eta_events_recorded = Signal()
allocation_events_recorded = Signal()


def after_eta_events(*, product_id: int, event_ids: list[int]) -> list:
    """Send ``eta_events_recorded`` for a chunk's events and return the follow-ups receivers asked for."""
    if not event_ids:
        return []
    responses = eta_events_recorded.send(
        sender=None, product_id=product_id, first_event_id=min(event_ids), last_event_id=max(event_ids)
    )
    return [follow_up for _, follow_up in responses if callable(follow_up)]


def follow_ups_run(follow_ups: list) -> None:
    """Merge follow-ups of the same type (several chunks of one rewrite), then run each once."""
    merged: dict[type, object] = {}
    for follow_up in follow_ups:
        kind = type(follow_up)
        merged[kind] = merged[kind].merge(follow_up) if kind in merged else follow_up
    for follow_up in merged.values():
        follow_up()
