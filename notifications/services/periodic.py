"""Periodic notifications: regular updates to customers still waiting, and incentives for long waits."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import Incentive, Notification, NotificationPreference
from .incentives import _incentive_rows
from .outbox import E, outbox_insert, outbox_item, outbox_write

# --- periodic: regular updates and long-delay incentives ---------------------------------------


def _waiting_backorders():
    from backorders.models import Backorder

    return (
        Backorder.objects.filter(status__in=Backorder.WAITING)
        .select_related("order__customer__notification_preference", "order__channel", "product")
        .prefetch_related("order__channel__webhook_endpoints")  # _channels_for, per chunk of the iterator
    )


def notifications_regular_updates(*, now: datetime | None = None) -> int:
    """A status update for every backorder that has waited another N days. Returns rows written.

    The key holds the period number, so running this every hour (or twice) writes one update per period.
    """
    now = now or timezone.now()
    every = settings.OMS["NOTIFY_REGULAR_UPDATE_DAYS"]
    if every <= 0:
        return 0
    recent = Notification.objects.filter(
        backorder=OuterRef("pk"), event=E.REGULAR_UPDATE, created_at__gt=now - timedelta(days=every)
    )
    opted_out = NotificationPreference.objects.filter(customer=OuterRef("order__customer"), regular_updates=False)
    due = (
        _waiting_backorders()
        .filter(placed_at__lte=now - timedelta(days=every))
        .exclude(Exists(recent))
        .exclude(Exists(opted_out))
        .order_by("pk")
    )
    written = 0
    for backorder in due.iterator(chunk_size=200):
        period = (now - backorder.placed_at).days // every
        with transaction.atomic():
            item = outbox_item(backorder)
            item["waiting_days"] = (now - backorder.placed_at).days
            written += len(
                outbox_write(
                    order=backorder.order,
                    backorders=[backorder],
                    event=E.REGULAR_UPDATE,
                    key=f"{E.REGULAR_UPDATE}:b{backorder.pk}:p{period}",
                    items=[item],
                    data={"waiting_days": item["waiting_days"]},
                )
            )
    return written


def incentive_grant_if_due(*, backorder, now: datetime | None = None) -> list[Notification]:
    """Create the backorder's incentive once (if its wait is long enough) and tell the customer."""
    return outbox_insert(_incentive_rows([backorder], now or timezone.now()))


def incentives_grant_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    long_delay = settings.OMS["NOTIFY_LONG_DELAY_DAYS"]
    if long_delay <= 0:
        return 0
    candidates = (
        _waiting_backorders()
        .filter(Q(placed_at__lte=now - timedelta(days=long_delay)) | Q(eta__isnull=False))
        .exclude(Exists(Incentive.objects.filter(backorder=OuterRef("pk"))))
        .order_by("pk")
    )
    written = 0
    for backorder in candidates.iterator(chunk_size=200):
        with transaction.atomic():
            written += len(incentive_grant_if_due(backorder=backorder, now=now))
    return written
