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
    Backorder.EtaBasis.TRANSFER: "based on stock already on its way to us from another of our warehouses",
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


# --- lots (docs/lots.md) ------------------------------------------------------------------------------


def lots_list():
    """Lots with their product and warehouse, soonest expiry first (lots without expiry last)."""
    from django.db.models import F

    from inventory.models import Lot

    return Lot.objects.select_related("product", "warehouse").order_by(
        F("expiry_date").asc(nulls_last=True), "product__sku", "number", "pk"
    )


def lot_recall(lot) -> dict:
    """Where every unit of a lot went: the units by destination, and every order that shipped or holds some (with
    its customer and shipment): the recall list. Four queries, whatever the size."""
    from django.db.models import Q, Sum

    from inventory.models import StockMovement
    from orders.models import LotAllocation, ShipmentLine

    moved = StockMovement.objects.filter(lot=lot).aggregate(
        shipped=Sum("quantity", filter=Q(kind=StockMovement.Kind.SHIPMENT)),
        adjusted_out=Sum("quantity", filter=Q(kind=StockMovement.Kind.ADJUSTMENT, quantity__lt=0)),
        transferred_out=Sum("quantity", filter=Q(kind=StockMovement.Kind.TRANSFER_OUT)),
    )
    shipped = (
        ShipmentLine.objects.filter(lot=lot)
        .select_related("shipment__order__customer", "shipment__order__channel")
        .order_by("shipment__shipped_at", "pk")
    )
    reserved = (
        LotAllocation.objects.filter(lot=lot)
        .select_related("order_line__order__customer", "order_line__order__channel")
        .order_by("order_line__order__placed_at", "pk")
    )
    rows = [_recall_row("shipped", line.shipment.order, line.quantity, line.shipment) for line in shipped]
    rows += [_recall_row("reserved", row.order_line.order, row.quantity, None) for row in reserved]
    return {
        "units": {
            "received": lot.quantity_received,
            "shipped": -(moved["shipped"] or 0),
            "reserved": lot.allocated,
            "in_stock_free": lot.on_hand - lot.allocated,
            "quarantined": lot.quarantined,
            "adjusted_out": -(moved["adjusted_out"] or 0),
            "transferred_out": -(moved["transferred_out"] or 0),
        },
        "recall": rows,
    }


def _recall_row(kind: str, order, quantity: int, shipment) -> dict:
    return {
        "kind": kind,
        "order": order.number,
        "customer_external_id": order.customer.external_id,
        "customer_name": order.customer.name,
        "customer_email": order.customer.email,
        "channel": order.channel.code if order.channel else None,
        "shipment": shipment.pk if shipment else None,
        "shipped_at": shipment.shipped_at if shipment else None,
        "quantity": quantity,
    }
