"""Delivery history for tests of the learned promises: delivered purchase-order lines with their receipts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from suppliers.models import ExpectedDateRevision, PurchaseOrder, Receipt, ReceiptLine
from tests.suppliers.factories import PurchaseOrderFactory, PurchaseOrderLineFactory


def noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def delivered_line(
    *,
    supplier,
    product,
    ordered: date,
    quoted_days: int,
    actual_days: int,
    revised_to: int | None = None,
    revised_on: int | None = None,
    quantity: int = 10,
    first_part: tuple[int, int] | None = None,
):
    """A line ordered on ``ordered``, promised ``quoted_days`` later, delivered in full ``actual_days`` later (and, with
    ``revised_to``, its date moved to ordered + revised_to on day ordered + revised_on; with ``first_part`` = (days,
    units), those units came first, ``days`` after the order)."""
    po = PurchaseOrderFactory(
        supplier=supplier, status=PurchaseOrder.Status.RECEIVED, order_date=ordered,
        expected_date=ordered + timedelta(days=quoted_days),
    )  # fmt: skip
    line = PurchaseOrderLineFactory(purchase_order=po, product=product, quantity_ordered=quantity)
    if revised_to is not None:
        revision = ExpectedDateRevision.objects.create(
            line=line, old_date=line.expected_date, new_date=ordered + timedelta(days=revised_to), reason="slip"
        )
        ExpectedDateRevision.objects.filter(pk=revision.pk).update(
            created_at=noon(ordered + timedelta(days=revised_on))
        )
        line.expected_date = ordered + timedelta(days=revised_to)
    line.quantity_received = quantity
    line.save(update_fields=["quantity_received", "expected_date"])
    parts = [(actual_days, quantity)]
    if first_part is not None:
        parts = [first_part, (actual_days, quantity - first_part[1])]
    for days, units in parts:
        receipt = Receipt.objects.create(purchase_order=po)
        Receipt.objects.filter(pk=receipt.pk).update(received_at=noon(ordered + timedelta(days=days)))
        ReceiptLine.objects.create(receipt=receipt, purchase_order_line=line, quantity=units)
    return line
