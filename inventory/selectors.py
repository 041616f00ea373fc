from __future__ import annotations

from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce

from .models import Product, StockItem


def products_with_availability():
    """Products annotated with ``available`` (on hand − allocated over every warehouse)."""
    return Product.objects.annotate(
        available=Coalesce(Sum(F("stock_items__on_hand") - F("stock_items__allocated")), Value(0)),
        on_hand=Coalesce(Sum("stock_items__on_hand"), Value(0)),
    )


def stock_items_list():
    return StockItem.objects.select_related("product", "warehouse").annotate(
        available_units=F("on_hand") - F("allocated")
    )


def product_get(*, sku: str):
    """One product with its availability, or None (a SKU no product can have is simply not found)."""
    if not sku or "\x00" in sku or len(sku) > 64:
        return None
    return products_with_availability().filter(sku=sku).first()


def warehouses_list():
    from .models import Warehouse

    return Warehouse.objects.order_by("code")
