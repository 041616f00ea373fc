"""Customer notifications (transactional outbox). Filled in by the notifications issue."""

from __future__ import annotations


def notifications_from_backorder_events(*, events) -> None:
    """Write the outbox rows that these backorder events cause, in the caller's transaction."""
    return None
