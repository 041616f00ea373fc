"""Purchase orders and supplier lead times as a source of supply for backorder ETAs (``backorders.supply``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from backorders.supply import SupplyRead, SupplySource

from .lead_times import history_stamp, history_stamp_sql, product_promises, promises_from, supplier_histories
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


def reads(product_ids: list[int]) -> list:
    """``incoming``, ``lead_time_days`` and ``product_promises`` of many products as three reads the caller runs in
    one round trip with its own: the open lines, the active supplier products, the history cache's stamp. Same
    querysets and rules as the three functions; ``finish`` turns the rows into each product's report."""
    open_lines = incoming_lines(product_ids=product_ids).values_list(
        "pk", "product_id", "purchase_order__supplier_id", "expected_date", "original_expected_date",
        "quantity_ordered", "quantity_received",
    )  # fmt: skip
    offers = (
        SupplierProduct.objects.filter(product_id__in=product_ids, supplier__is_active=True)
        .order_by("product_id", "-preferred", "lead_time_days", "supplier_id")
        .values_list("product_id", "supplier_id", "preferred", "lead_time_days")
    )
    return [open_lines, offers, history_stamp_sql()]


def finish(product_ids: list[int], rows: list, service_level: float, today: date) -> dict[int, SupplyRead]:
    line_rows, offer_rows, [stamp_row] = rows
    lines, candidates = defaultdict(list), defaultdict(list)
    for pk, product_id, supplier_id, expected, original, ordered, received in line_rows:
        lines[product_id].append((pk, supplier_id, expected, original, ordered, received))
    for product_id, supplier_id, preferred, days in offer_rows:
        candidates[product_id].append((supplier_id, preferred, days))
    supplier_ids = [row[2] for row in line_rows] + [row[1] for row in offer_rows]
    histories = supplier_histories(supplier_ids=supplier_ids, today=today, stamp=history_stamp(today, stamp_row))
    return {
        pk: SupplyRead(
            incoming=[(line[0], line[2], line[4] - line[5]) for line in lines[pk]],
            lead_time_days=candidates[pk][0][2] if candidates[pk] else None,
            promises=promises_from(
                pk, lines[pk], [(s, preferred) for s, preferred, _ in candidates[pk]], histories, service_level, today
            ),
        )
        for pk in product_ids
    }


PURCHASE_ORDERS = SupplySource(
    name="purchase_orders",
    incoming=incoming,
    lead_time_days=lead_time_days,
    promises=product_promises,
    reads=reads,
    finish=finish,
    read_count=3,
)
