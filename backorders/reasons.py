"""Why a backorder happened (``Backorder.reason``), decided from what caused it when it is created (reads only).

In this order, the first that applies (docs/promises.md, "The cost of backorders"):
1. **quality_hold**: stock of the product was taken off the shelf for quality in the last 14 days (a negative
   adjustment whose reason mentions quality, a hold, quarantine or a defect).
2. **supplier_delay**: units a supplier promised by today have not arrived (an incoming purchase-order line whose
   original expected date is today or earlier still has units to come): on time, they would have served it.
3. **demand_spike**: the product's units ordered in the last 24 hours (this order included) are at least 3 × its
   average day over the 28 days before, and at least 5 units (a product that sold nothing in those 28 days has no
   usual level to spike from: its first orders are a stockout).
4. **stockout**: otherwise — ordinary demand met an empty shelf.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef, Subquery, Sum
from django.utils import timezone

from inventory.models import Product, StockMovement
from orders.models import OrderLine

from .models import Backorder

R = Backorder.Reason
QUALITY_WORDS = r"quality|hold|quarantin|defect"
QUALITY_DAYS = 14
SPIKE_FACTOR = 3
SPIKE_MIN_UNITS = 5
BASELINE_DAYS = 28


def backorder_reasons(*, overdue_units: dict[int, int]) -> dict[int, str]:
    """The reason for a new backorder of each product (``overdue_units``: what its supply owes by today, read with
    its ETA). One query: a recent quality adjustment, and the demand of the last 24 hours and the 28 days before."""
    rows = list(reasons_read(sorted(overdue_units), **reasons_windows(timezone.now())))
    return reasons_decide(rows, overdue_units=overdue_units)


def reasons_windows(now) -> dict:
    """The moments the rules look back to from ``now``: the last 24 hours, the 28 days before, the quality days."""
    since = now - timedelta(days=1)
    return {
        "since": since,
        "baseline_since": since - timedelta(days=BASELINE_DAYS),
        "quality_since": now - timedelta(days=QUALITY_DAYS),
    }


def reasons_read(product_ids, *, since, baseline_since, quality_since):
    """What the reasons are decided on, per product: (id, held, units of the last 24 hours, units of the 28 days
    before) — a read a caller may run in one round trip with others (``core.sql.fetch_together``); the moments
    from ``reasons_windows``."""

    def units(**window):
        return Subquery(
            OrderLine.objects.filter(product_id=OuterRef("pk"), **window)
            .order_by()
            .values("product_id")
            .annotate(n=Sum("quantity"))
            .values("n")
        )

    return (
        Product.objects.filter(pk__in=list(product_ids))
        .annotate(
            held=Exists(
                StockMovement.objects.filter(
                    stock_item__product_id=OuterRef("pk"), quantity__lt=0,
                    created_at__gte=quality_since, reason__iregex=QUALITY_WORDS,
                )
            ),
            recent=units(order__placed_at__gte=since),
            before=units(order__placed_at__gte=baseline_since, order__placed_at__lt=since),
        )
        .order_by()
        .values_list("pk", "held", "recent", "before")
    )  # fmt: skip


def reasons_decide(rows, *, overdue_units: dict[int, int], unwritten_units: dict[int, int] | None = None):
    """The rules above over ``reasons_read``'s rows. ``unwritten_units``: the units of the order being placed, when
    the rows were read before its lines were written (its demand counts in the last 24 hours all the same)."""
    unwritten = unwritten_units or {}
    reasons = {}
    for product_id, held, recent, before in rows:
        recent, average = (recent or 0) + unwritten.get(product_id, 0), (before or 0) / BASELINE_DAYS
        if held:
            reasons[product_id] = R.QUALITY_HOLD
        elif overdue_units[product_id] > 0:
            reasons[product_id] = R.SUPPLIER_DELAY
        elif average > 0 and recent >= SPIKE_MIN_UNITS and recent >= SPIKE_FACTOR * average:
            reasons[product_id] = R.DEMAND_SPIKE
        else:
            reasons[product_id] = R.STOCKOUT
    return reasons
