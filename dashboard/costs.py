"""The cost of backorders over a date range, grouped by product, supplier, reason or channel (reads only).

The backorders counted are those **created** in the range (a cohort: every figure follows the same backorders to
today). Per group (docs/promises.md, "The cost of backorders"):

- revenue delayed = Σ (units backordered − units cancelled) × line unit price: sales that happened, late;
- revenue lost = Σ units cancelled while waiting × unit price;
- incentives = Σ the thank-you incentives granted for them;
- expedite cost = Σ ``ExpectedDateRevision.expedite_cost`` of date revisions made in the range, attributed to the
  revised line's product and supplier (by reason or channel it cannot be split: one row with no key);
- carrying cost = Σ value waited × days waited × yearly rate ÷ 365, value waited = (units − cancelled) × unit
  price, days waited = from creation to all units reserved, cancellation or today (``OMS_BACKORDER_CARRYING_RATE``);
- SLA breaches = backorders whose ship-by date passed while they waited.
A backorder's supplier is the supplier of the purchase order its date comes from, else the product's preferred one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

GROUPS = ("product", "supplier", "reason", "channel")
FIELDS = (
    "backorders", "units", "revenue_delayed", "revenue_lost", "incentives", "expedite_cost", "carrying_cost",
    "sla_breaches",
)  # fmt: skip
MONEY = ("revenue_delayed", "revenue_lost", "incentives", "expedite_cost", "carrying_cost")
CENT = Decimal("0.01")


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def backorder_cost_report(*, start: date, end: date, group_by: str = "product") -> dict:
    """Rows (one per group, costliest first) and totals. Four queries whatever the number of backorders."""
    from backorders.models import Backorder
    from notifications.models import Incentive
    from suppliers.models import ExpectedDateRevision, SupplierProduct

    now = timezone.now()
    rate = Decimal(str(settings.OMS["BACKORDER_CARRYING_RATE"]))
    since, until = _midnight(start), _midnight(end + timedelta(days=1))
    backorders = list(
        Backorder.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
            "pk",
            "product_id",
            "product__sku",
            "reason",
            "order__channel__code",
            "quantity",
            "quantity_cancelled",
            "order_line__unit_price",
            "created_at",
            "allocated_at",
            "cancelled_at",
            "fulfilled_at",
            "sla_breached",
            "eta_purchase_order_line__purchase_order__supplier__code",
        )  # fmt: skip
    )
    preferred = dict(
        SupplierProduct.objects.filter(product_id__in={row[1] for row in backorders}, preferred=True).values_list(
            "product_id", "supplier__code"
        )
    )
    incentives = dict(
        Incentive.objects.filter(backorder_id__in=[row[0] for row in backorders]).values_list("backorder_id", "amount")
    )
    groups: dict = defaultdict(lambda: dict.fromkeys(FIELDS, 0) | dict.fromkeys(MONEY, Decimal("0")))
    for (pk, product_id, sku, reason, channel, quantity, cancelled, price, created, allocated, cancelled_at,
         fulfilled_at, breached, po_supplier) in backorders:  # fmt: skip
        key = {
            "product": sku,
            "supplier": po_supplier or preferred.get(product_id),
            "reason": reason,
            "channel": channel,
        }[group_by]
        row = groups[key]
        waited_units = quantity - cancelled
        closed = [moment for moment in (allocated, cancelled_at, fulfilled_at) if moment is not None]
        seconds = ((min(closed) if closed else now) - created).total_seconds()
        days = Decimal(str(max(0.0, seconds) / 86400))
        row["backorders"] += 1
        row["units"] += quantity
        row["revenue_delayed"] += waited_units * price
        row["revenue_lost"] += cancelled * price
        row["incentives"] += incentives.get(pk, Decimal("0"))
        row["carrying_cost"] += waited_units * price * days * rate / Decimal(365)
        row["sla_breaches"] += int(breached)
    revisions = ExpectedDateRevision.objects.filter(created_at__gte=since, created_at__lt=until, expedite_cost__gt=0)
    for sku, supplier, cost in revisions.values_list(
        "line__product__sku", "line__purchase_order__supplier__code", "expedite_cost"
    ):
        key = {"product": sku, "supplier": supplier}.get(group_by)
        groups[key]["expedite_cost"] += cost
    rows = []
    for key, row in groups.items():
        for name in MONEY:
            row[name] = row[name].quantize(CENT, rounding=ROUND_HALF_UP)
        rows.append({"key": key, **row})
    rows.sort(key=lambda r: (-(r["revenue_lost"] + r["incentives"] + r["expedite_cost"] + r["carrying_cost"]),
                             -r["revenue_delayed"], str(r["key"])))  # fmt: skip
    totals = {name: sum((row[name] for row in rows), Decimal("0") if name in MONEY else 0) for name in FIELDS}
    return {"start": start, "end": end, "group_by": group_by, "rows": rows, "totals": totals}


__all__ = ["FIELDS", "GROUPS", "backorder_cost_report"]
