"""Supplier scorecard: how reliably each supplier delivers, computed by the database (one grouped query
per measure, each over the supplier's purchase order lines).

Definitions (for people, not programmers):
- On-time delivery rate: of the PO lines delivered in full, the share whose last delivery arrived on or
  before the date the supplier first promised (the line's original expected date).
- Lead time actual vs quoted: average days from ordering to full delivery, against the days the supplier
  quoted when the order was placed (original expected date − order date), over lines delivered in full.
- Receipt fill rate: units received ÷ units ordered, over lines whose promised date has passed or that are
  complete (a line not yet due cannot be short).
- ETA slips: how many times an expected date was moved later.
- Backorders waiting on it: waiting backorders whose date comes from one of its purchase orders.
"""

from __future__ import annotations

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import ExpectedDateRevision, PurchaseOrder, PurchaseOrderLine, ReceiptLine, Supplier

CLOSED_STATUSES = (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED)


def _last_receipt_date():
    return Subquery(
        ReceiptLine.objects.filter(purchase_order_line=OuterRef("pk"))
        .values("purchase_order_line")
        .annotate(last=Max("receipt__received_at"))
        .values("last")[:1]
    )


def _days(delta) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 86400, 1)


def supplier_scorecards(*, supplier_ids=None) -> list[dict]:
    """One row per supplier with every scorecard measure (``None`` where there is nothing to measure yet)."""
    from backorders.models import Backorder

    today = timezone.localdate()
    suppliers = Supplier.objects.order_by("name")
    if supplier_ids is not None:
        suppliers = suppliers.filter(pk__in=supplier_ids)
    lines = PurchaseOrderLine.objects.exclude(purchase_order__status__in=CLOSED_STATUSES)
    if supplier_ids is not None:
        lines = lines.filter(purchase_order__supplier_id__in=supplier_ids)

    delivered = (
        lines.filter(quantity_received=F("quantity_ordered"))
        .annotate(delivered_on=TruncDate(_last_receipt_date()))
        .filter(delivered_on__isnull=False)
    )
    delivery = {
        row["purchase_order__supplier_id"]: row
        for row in delivered.values("purchase_order__supplier_id").annotate(
            delivered=Count("id"),
            on_time=Count("id", filter=Q(delivered_on__lte=F("original_expected_date"))),
            actual=_avg_days(F("delivered_on") - F("purchase_order__order_date")),
            quoted=_avg_days(F("original_expected_date") - F("purchase_order__order_date")),
        )
    }
    fill = {
        row["purchase_order__supplier_id"]: row
        for row in lines.filter(Q(expected_date__lt=today) | Q(quantity_received=F("quantity_ordered")))
        .values("purchase_order__supplier_id")
        .annotate(ordered=Sum("quantity_ordered"), received=Sum("quantity_received"))
    }
    slips = dict(
        ExpectedDateRevision.objects.filter(new_date__gt=F("old_date"))
        .values("line__purchase_order__supplier_id")
        .annotate(n=Count("id"))
        .values_list("line__purchase_order__supplier_id", "n")
    )
    waiting = dict(
        Backorder.objects.filter(status__in=Backorder.WAITING, eta_purchase_order_line__isnull=False)
        .values("eta_purchase_order_line__purchase_order__supplier_id")
        .annotate(n=Count("id"))
        .values_list("eta_purchase_order_line__purchase_order__supplier_id", "n")
    )
    open_pos = dict(
        PurchaseOrder.objects.filter(status__in=PurchaseOrder.INCOMING)
        .values("supplier_id")
        .annotate(n=Count("id"))
        .values_list("supplier_id", "n")
    )
    rows = []
    for supplier in suppliers:
        d = delivery.get(supplier.pk, {})
        f = fill.get(supplier.pk, {})
        rows.append(
            {
                "supplier": supplier,
                "lines_delivered": d.get("delivered", 0),
                "on_time_rate": _ratio(d.get("on_time"), d.get("delivered")),
                "lead_time_actual_days": _days(d.get("actual")),
                "lead_time_quoted_days": _days(d.get("quoted")),
                "fill_rate": _ratio(f.get("received"), f.get("ordered")),
                "eta_slips": slips.get(supplier.pk, 0),
                "backorders_waiting": waiting.get(supplier.pk, 0),
                "open_purchase_orders": open_pos.get(supplier.pk, 0),
            }
        )
    return rows


def _avg_days(expression):
    """Average of a date difference (a duration on every backend; turned into days by the caller)."""
    from django.db.models import Avg

    return Avg(ExpressionWrapper(expression, output_field=DurationField()))


def _ratio(numerator, denominator) -> float | None:
    if not denominator:
        return None
    return round((numerator or 0) / denominator, 4)


def supplier_purchase_orders(*, supplier):
    """The supplier's purchase orders, newest first, with their lines' totals (drill-down)."""
    return (
        PurchaseOrder.objects.filter(supplier=supplier)
        .select_related("warehouse")
        .annotate(
            units_ordered=Sum("lines__quantity_ordered"),
            units_received=Sum("lines__quantity_received"),
            line_count=Count("lines"),
            first_promised=Max("lines__original_expected_date"),
        )
        .order_by("-order_date", "-id")
    )
