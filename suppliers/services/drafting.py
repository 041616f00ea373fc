"""Drafting purchase orders from what the shortage list and the replenishment plan say to order."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from inventory.models import Product, Warehouse

from ..exceptions import NoPreferredSupplier, NothingToOrder
from ..models import (
    PurchaseOrder,
)
from .purchase_orders import PurchaseOrderLineRequest, purchase_order_create

# --- shortages --------------------------------------------------------------------------------


@transaction.atomic
def purchase_order_draft_for_shortage(*, product: Product, user=None) -> PurchaseOrder:
    """Draft a purchase order to the preferred supplier for the product's uncovered demand (suggested quantity)."""
    from ..selectors import shortages

    rows = shortages(product_ids=[product.pk])
    row = rows[0] if rows else None
    if row is None or not row["uncovered"]:
        raise NothingToOrder(
            f"{product.sku} has no uncovered demand: stock and open purchase orders cover every waiting unit.",
            details={"sku": product.sku},
        )
    _preferred_supplier_required(product=product, row=row)
    return _purchase_order_draft(
        product=product,
        row=row,
        notes=f"Drafted from the shortage list: {row['uncovered']} unit(s) uncovered.",
        user=user,
    )


@transaction.atomic
def purchase_order_draft_for_plan(*, product: Product, service_level: float = 0.95, user=None) -> PurchaseOrder:
    """Draft a purchase order to the preferred supplier for what the replenishment plan says to order now."""
    from ..planning import replenishment_plan

    rows = replenishment_plan(skus=[product.sku], service_level=service_level)
    row = rows[0] if rows else None
    if row is None:
        raise NothingToOrder(f"{product.sku} is no longer sold.", details={"sku": product.sku})
    _preferred_supplier_required(product=product, row=row)
    if not row["reorder_now"]:
        raise NothingToOrder(
            f"{product.sku} is above its reorder point ({row['inventory_position']} > {row['reorder_point']}).",
            details={"sku": product.sku, "position": row["inventory_position"], "reorder_point": row["reorder_point"]},
        )
    notes = (
        f"Drafted from the replenishment plan: position {row['inventory_position']}, reorder point "
        f"{row['reorder_point']}, stockout risk {round(100 * row['stockout_risk'])} %."
    )
    return _purchase_order_draft(product=product, row=row, notes=notes, user=user)


def _preferred_supplier_required(*, product: Product, row: dict) -> None:
    if not row["supplier"]:
        raise NoPreferredSupplier(
            f"{product.sku} has no preferred supplier: mark one in the supplier catalogue first.",
            details={"sku": product.sku},
        )


def _purchase_order_draft(*, product: Product, row: dict, notes: str, user) -> PurchaseOrder:
    """A draft PO for ``row["suggested_quantity"]`` to ``row["supplier"]``, due after its lead time."""
    warehouse = (
        Warehouse.objects.filter(stock_items__product=product, is_active=True).order_by("pk").first()
        or Warehouse.objects.filter(is_active=True).order_by("pk").first()
    )
    if warehouse is None:
        raise InvalidInput("There is no active warehouse to receive into.")
    expected = timezone.localdate() + timedelta(days=row["lead_time_days"])
    return purchase_order_create(
        supplier_code=row["supplier"],
        warehouse_code=warehouse.code,
        expected_date=expected,
        lines=[PurchaseOrderLineRequest(sku=product.sku, quantity=row["suggested_quantity"])],
        notes=notes,
        user=user,
    )
