"""Long-delay incentives: a backorder that waits (or will wait) past the long-delay threshold earns one incentive, once,
announced in an outbox row per channel."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from ..models import Incentive, Notification
from ..rendering import incentive_dict
from .outbox import OUTBOX_BATCH, E, outbox_item, outbox_rows

# --- long-delay incentives ---------------------------------------------------------------------


def _incentive_due(backorder, now: datetime) -> str | None:
    long_delay = settings.OMS["NOTIFY_LONG_DELAY_DAYS"]
    if long_delay <= 0 or not backorder.is_waiting:
        return None
    if backorder.placed_at <= now - timedelta(days=long_delay):
        return f"waited more than {long_delay} days"
    if backorder.eta and backorder.eta > (backorder.placed_at + timedelta(days=long_delay)).date():
        return f"expected more than {long_delay} days after the order"
    return None


def _incentive_amount(backorder, unit_price: Decimal | None) -> Decimal:
    value = (unit_price or Decimal("0")) * backorder.quantity
    amount = value * Decimal(settings.OMS["NOTIFY_INCENTIVE_PERCENT"]) / Decimal(100)
    amount = min(amount, Decimal(settings.OMS["NOTIFY_INCENTIVE_MAX_AMOUNT"]))
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _incentive_rows(backorders, now: datetime) -> list[Notification]:
    """Create the incentives now due for these backorders (once each: one per backorder, ON CONFLICT DO
    NOTHING so a concurrent grant is harmless) and return the unsaved outbox rows that announce them.

    A handful of queries for the whole batch: an ETA recompute can move thousands of backorders at once."""
    from orders.models import OrderLine

    due = [(backorder, reason) for backorder in backorders if (reason := _incentive_due(backorder, now))]
    if not due:
        return []
    ids = [backorder.pk for backorder, _ in due]
    granted = set(Incentive.objects.filter(backorder_id__in=ids).values_list("backorder_id", flat=True))
    due = [(backorder, reason) for backorder, reason in due if backorder.pk not in granted]
    if not due:
        return []
    prices = dict(OrderLine.objects.filter(pk__in=[b.order_line_id for b, _ in due]).values_list("pk", "unit_price"))
    kind = settings.OMS["NOTIFY_INCENTIVE_KIND"]
    if kind not in Incentive.Kind.values:
        kind = Incentive.Kind.DISCOUNT_CODE
    prefix = "THANKS" if kind == Incentive.Kind.DISCOUNT_CODE else "CREDIT"
    Incentive.objects.bulk_create(
        [
            Incentive(
                backorder=backorder,
                kind=kind,
                code=f"{prefix}-{secrets.token_hex(5).upper()}",
                amount=_incentive_amount(backorder, prices.get(backorder.order_line_id)),
                currency=backorder.order.currency,
                reason=reason,
            )
            for backorder, reason in due
        ],
        ignore_conflicts=True,
        batch_size=OUTBOX_BATCH,
    )
    incentives = {
        incentive.backorder_id: incentive
        for incentive in Incentive.objects.filter(backorder_id__in=[b.pk for b, _ in due])
    }
    rows: list[Notification] = []
    for backorder, reason in due:
        rows += outbox_rows(
            order=backorder.order,
            backorders=[backorder],
            event=E.INCENTIVE,
            key=f"{E.INCENTIVE}:b{backorder.pk}",
            items=[outbox_item(backorder)],
            data={"incentive": incentive_dict(incentives[backorder.pk]), "reason": reason},
        )
    return rows
