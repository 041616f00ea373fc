"""Service levels: a backorder still waiting past its ship-by date (``sla_due_at``) is marked breached, once, with an
event, and raised to the active policy's ``sla_breach_priority`` through the normal priority change."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from inventory.locks import stock_items_lock_for_products

from ..models import PRIORITY_RANKS, Backorder, BackorderEvent
from .lifecycle import backorder_event_record
from .policy import policy_active
from .priority import backorder_priority_change


def backorders_sla_enforce(*, now: datetime | None = None) -> int:
    """Mark every newly breached backorder and apply the boost. Idempotent: a breached backorder is skipped."""
    from ..selectors import backorders_sla_due

    now = now or timezone.now()
    boost = policy_active().sla_breach_priority
    return sum(backorder_sla_breach(backorder_id=pk, boost=boost, now=now) for pk in backorders_sla_due(now=now))


@transaction.atomic
def backorder_sla_breach(*, backorder_id: int, boost: str, now: datetime) -> bool:
    product_id = Backorder.objects.values_list("product_id", flat=True).get(pk=backorder_id)
    stock_items_lock_for_products([product_id])  # the global lock order: stock first
    backorder = Backorder.objects.select_for_update(no_key=True).get(pk=backorder_id)
    if backorder.sla_breached or not backorder.is_waiting or not backorder.sla_due_at or backorder.sla_due_at > now:
        return False
    backorder.sla_breached = True
    backorder.save(update_fields=["sla_breached"])
    due = timezone.localtime(backorder.sla_due_at).date().isoformat()
    raise_to = boost if boost and PRIORITY_RANKS.get(boost, -1) > backorder.priority_rank else ""
    backorder_event_record(
        backorder=backorder,
        kind=BackorderEvent.Kind.SLA_BREACHED,
        message=f"SLA breached: ship-by {due} passed with {backorder.quantity_outstanding} unit(s) waiting."
        + (f" Priority raised to {raise_to} by the allocation policy." if raise_to else ""),
        data={"sla_due_at": backorder.sla_due_at.isoformat(), "raise_to": raise_to or None},
    )
    if raise_to:
        backorder_priority_change(backorder=backorder, priority=raise_to, reason=f"SLA breached (ship-by {due})")
    return True
