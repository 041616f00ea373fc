"""Suppliers, their catalogue, purchase orders and receipts, one module per topic; import from here. Every write is
one transaction."""

from .catalogue import supplier_create, supplier_product_upsert, supplier_upsert
from .drafting import purchase_order_draft_for_plan, purchase_order_draft_for_shortage
from .purchase_orders import (
    PurchaseOrderLineRequest,
    ReceiptLineRequest,
    purchase_order_cancel,
    purchase_order_confirm,
    purchase_order_create,
    purchase_order_revise_dates,
    purchase_order_send,
    purchase_order_transition,
)
from .receipts import purchase_order_receive

__all__ = [
    "PurchaseOrderLineRequest",
    "ReceiptLineRequest",
    "purchase_order_cancel",
    "purchase_order_create",
    "purchase_order_draft_for_plan",
    "purchase_order_draft_for_shortage",
    "purchase_order_receive",
    "purchase_order_revise_dates",
    "purchase_order_send",
    "purchase_order_transition",
    "supplier_create",
    "supplier_product_upsert",
    "supplier_upsert",
    "purchase_order_confirm",
]
