from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Sum

from .models import Backorder


def waiting_demand_by_product(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Units still waiting for stock, per product (served by the partial queue index)."""
    rows = (
        Backorder.objects.filter(product_id__in=list(product_ids), status__in=Backorder.WAITING)
        .values("product_id")
        .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
    )
    return {row["product_id"]: row["units"] or 0 for row in rows}


def backorder_queue(*, product_id: int):
    """Waiting backorders of one product, in allocation order."""
    return Backorder.objects.filter(product_id=product_id, status__in=Backorder.WAITING).order_by(
        "-priority_rank", "-priority_score", "placed_at", "id"
    )
