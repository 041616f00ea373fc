"""Reads of fulfilment: what the customer's status page shows about one order (and nothing else)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backorders.models import Backorder
from backorders.substitutes import Alternative, alternatives_for_products
from orders.models import Order, OrderLine
from orders.selectors import customer_terms_for

ETA_BASIS_WORDS = {
    Backorder.EtaBasis.PURCHASE_ORDER_HISTORY: (
        "based on a delivery our supplier has confirmed, allowing for the delays we have measured with that supplier"
    ),
    Backorder.EtaBasis.PURCHASE_ORDER: "based on a delivery our supplier has confirmed for that day",
    Backorder.EtaBasis.LEAD_TIME_HISTORY: (
        "an estimate from how long our supplier has really taken to deliver (no delivery is booked yet)"
    ),
    Backorder.EtaBasis.LEAD_TIME: "an estimate from our supplier's usual delivery time (no delivery is booked yet)",
    Backorder.EtaBasis.NONE: "we do not have a date yet; we will write as soon as we do",
}


@dataclass
class StatusLine:
    line: OrderLine
    backorder: Backorder | None
    alternatives: list[Alternative] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return self.line.quantity_backordered

    @property
    def eta_words(self) -> str:
        return ETA_BASIS_WORDS.get(self.backorder.eta_basis, "") if self.backorder else ""

    @property
    def date_moved(self) -> bool:
        """The expected date is later than the one first promised."""
        b = self.backorder
        return bool(b and b.eta and b.eta_first and b.eta > b.eta_first)


def order_status_lines(*, order: Order) -> tuple[list[StatusLine], bool]:
    """Every line of the order with its backorder and in-stock alternatives (a fixed number of queries), and
    whether the customer's terms let substitutes be offered."""
    lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("pk"))
    backorders = {b.order_line_id: b for b in Backorder.objects.filter(order=order)}
    terms = customer_terms_for(customer=order.customer)
    offer_substitutes = terms is None or terms.accepts_substitutes
    waiting = [b.product_id for b in backorders.values() if b.is_waiting]
    alternatives = alternatives_for_products(waiting) if waiting and offer_substitutes else {}
    result = [
        StatusLine(
            line=line,
            backorder=backorders.get(line.pk),
            alternatives=alternatives.get(line.product_id, [])
            if backorders.get(line.pk) and backorders[line.pk].is_waiting
            else [],
        )
        for line in lines
    ]
    return result, offer_substitutes
