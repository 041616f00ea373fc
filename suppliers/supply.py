"""Purchase orders and supplier lead times as a source of supply for backorder ETAs (``backorders.supply``)."""

from __future__ import annotations

from datetime import date

from backorders.supply import SupplySource

from .models import SupplierProduct
from .selectors import incoming_lines


def incoming(product_id: int) -> list[tuple[int, date, int]]:
    """Open purchase-order lines of the product: (line id, expected date, units still to come)."""
    return [
        (pk, expected, ordered - received)
        for pk, expected, ordered, received in incoming_lines(product_ids=[product_id]).values_list(
            "pk", "expected_date", "quantity_ordered", "quantity_received"
        )
    ]


def lead_time_days(product_id: int) -> int | None:
    """The preferred supplier's quoted lead time."""
    return (
        SupplierProduct.objects.filter(product_id=product_id, preferred=True)
        .values_list("lead_time_days", flat=True)
        .first()
    )


PURCHASE_ORDERS = SupplySource(name="purchase_orders", incoming=incoming, lead_time_days=lead_time_days)
