"""Purchase orders and supplier lead times as a source of supply for backorder ETAs (``backorders.supply``)."""

from __future__ import annotations

from datetime import date

from backorders.supply import SupplySource

from .lead_times import product_promises
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
    """The quoted lead time of the supplier a new order would go to: the preferred one; without one, every active
    supplier of the product is considered and the shortest quote wins."""
    return (
        SupplierProduct.objects.filter(product_id=product_id, supplier__is_active=True)
        .order_by("-preferred", "lead_time_days", "supplier_id")
        .values_list("lead_time_days", flat=True)
        .first()
    )


PURCHASE_ORDERS = SupplySource(
    name="purchase_orders", incoming=incoming, lead_time_days=lead_time_days, promises=product_promises
)
