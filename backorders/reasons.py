"""Why a backorder happened (``Backorder.reason``), decided from what caused it when it is created (reads only).

In this order, the first that applies (docs/promises.md, "The cost of backorders"):
1. **quality_hold**: stock of the product was taken off the shelf for quality in the last 14 days (a negative
   adjustment whose reason mentions quality, a hold, quarantine or a defect).
2. **supplier_delay**: units a supplier promised by today have not arrived (an incoming purchase-order line whose
   original expected date is today or earlier still has units to come): on time, they would have served it.
3. **demand_spike**: the product's units ordered in the last 24 hours (this order included) are at least 3 × its
   average day over the 28 days before, and at least 5 units.
4. **stockout**: otherwise — ordinary demand met an empty shelf.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import Q, Sum
from django.utils import timezone

from inventory.models import StockMovement
from orders.models import OrderLine

from .models import Backorder
from .supply import overdue_supply

R = Backorder.Reason
QUALITY_WORDS = re.compile(r"quality|hold|quarantin|defect", re.IGNORECASE)
QUALITY_DAYS = 14
SPIKE_FACTOR = 3
SPIKE_MIN_UNITS = 5
BASELINE_DAYS = 28


def backorder_reasons(*, product_ids) -> dict[int, str]:
    """The reason for a new backorder of each product (three queries plus one per supply source)."""
    ids = sorted(set(product_ids))
    now = timezone.now()
    today = timezone.localdate()
    held = {
        product_id
        for product_id, reason in StockMovement.objects.filter(
            stock_item__product_id__in=ids, quantity__lt=0, created_at__gte=now - timedelta(days=QUALITY_DAYS)
        ).values_list("stock_item__product_id", "reason")
        if QUALITY_WORDS.search(reason or "")
    }
    overdue = {product_id for product_id in ids if overdue_supply(product_id, today) > 0}
    since = now - timedelta(days=1)
    baseline_start = since - timedelta(days=BASELINE_DAYS)
    demand = {
        row["product_id"]: row
        for row in OrderLine.objects.filter(product_id__in=ids, order__placed_at__gte=baseline_start)
        .values("product_id")
        .annotate(
            recent=Sum("quantity", filter=Q(order__placed_at__gte=since)),
            before=Sum("quantity", filter=Q(order__placed_at__lt=since)),
        )
    }
    reasons = {}
    for product_id in ids:
        row = demand.get(product_id, {})
        recent, average = row.get("recent") or 0, (row.get("before") or 0) / BASELINE_DAYS
        if product_id in held:
            reasons[product_id] = R.QUALITY_HOLD
        elif product_id in overdue:
            reasons[product_id] = R.SUPPLIER_DELAY
        elif recent >= SPIKE_MIN_UNITS and recent >= SPIKE_FACTOR * average:
            reasons[product_id] = R.DEMAND_SPIKE
        else:
            reasons[product_id] = R.STOCKOUT
    return reasons
