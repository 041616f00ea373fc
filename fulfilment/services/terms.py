"""The customer's terms over time: waiting units past ``auto_cancel_after_days`` are cancelled (reason
``terms_expired``) through the normal cancellation path: stock, events, and exactly one cancellation notice."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from backorders.selectors import backorders_past_auto_cancel
from core.errors import InvalidInput
from orders.exceptions import OrderClosed

from .cancellation import CancelRequest, order_cancel

TERMS_EXPIRED = "terms_expired"


def backorders_cancel_expired(*, now: datetime | None = None) -> int:
    """Cancel the waiting units of every backorder past its terms; returns how many backorders were cut.

    Idempotent: what is cancelled no longer waits, so a second run (or a concurrent one) finds nothing. The units
    are re-read under the order's locks (``waiting_only``): units reserved meanwhile are never cancelled.
    """
    now = now or timezone.now()
    cancelled = 0
    for backorder in backorders_past_auto_cancel(now=now):
        try:
            order_cancel(
                order=backorder.order,
                lines=[CancelRequest(sku=backorder.product.sku)],
                reason=TERMS_EXPIRED,
                waiting_only=True,
            )
        except (InvalidInput, OrderClosed):
            continue  # nothing waits any more (allocated, shipped or cancelled meanwhile)
        cancelled += 1
    return cancelled
