from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import F, Q, Sum, Value
from django.db.models.functions import Coalesce

from .models import Product, StockItem


def products_with_availability():
    """Products annotated with ``available`` (on hand − allocated over every warehouse)."""
    return Product.objects.annotate(
        # Only stock in active warehouses is available (inventory.routing); on hand counts every warehouse.
        available=Coalesce(
            Sum(
                F("stock_items__on_hand") - F("stock_items__allocated"),
                filter=Q(stock_items__warehouse__is_active=True),
            ),
            Value(0),
        ),
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


def product_ids_by_sku(skus) -> dict[str, int]:
    """SKU → product id for many SKUs at once (imports): one ``= ANY(array)`` statement on PostgreSQL."""
    skus = list(dict.fromkeys(skus))
    if not skus:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT sku, id FROM {Product._meta.db_table} WHERE sku = ANY(%s::text[])", [skus])
            return dict(cursor.fetchall())
    found: dict[str, int] = {}
    for start in range(0, len(skus), 500):
        found.update(Product.objects.filter(sku__in=skus[start : start + 500]).values_list("sku", "pk"))
    return found


def products_values_by_sku(skus, fields: tuple[str, ...]) -> list[tuple]:
    """(sku, *fields) of the products with these SKUs (imports): one ``= ANY(array)`` statement on PostgreSQL."""
    skus = list(dict.fromkeys(skus))
    if not skus:
        return []
    if connection.vendor == "postgresql":
        meta = Product._meta
        columns = ", ".join(meta.pk.column if f == "pk" else meta.get_field(f).column for f in ("sku", *fields))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {Product._meta.db_table} WHERE sku = ANY(%s::text[])", [skus])
            return cursor.fetchall()
    rows: list[tuple] = []
    for start in range(0, len(skus), 500):
        rows += Product.objects.filter(sku__in=skus[start : start + 500]).values_list("sku", *fields)
    return rows


def stock_levels(*, product_ids, warehouse_ids) -> dict[tuple[int, int], tuple[int, int]]:
    """(product id, warehouse id) → (on hand, allocated) of the existing stock items (imports: one statement)."""
    product_ids = list(set(product_ids))
    if not product_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT product_id, warehouse_id, on_hand, allocated FROM {StockItem._meta.db_table}"
                " WHERE product_id = ANY(%s::bigint[]) AND warehouse_id = ANY(%s::bigint[])",
                [product_ids, list(set(warehouse_ids))],
            )
            return {(p, w): (on_hand, allocated) for p, w, on_hand, allocated in cursor.fetchall()}
    levels = {}
    for start in range(0, len(product_ids), 500):
        rows = StockItem.objects.filter(
            product_id__in=product_ids[start : start + 500], warehouse_id__in=warehouse_ids
        ).values_list("product_id", "warehouse_id", "on_hand", "allocated")
        levels.update(((p, w), (on_hand, allocated)) for p, w, on_hand, allocated in rows)
    return levels


def transfer_list():
    from .models import Transfer

    return Transfer.objects.select_related("source", "destination", "created_by").prefetch_related("lines__product")


def transfer_get(*, number: str):
    return transfer_list().filter(number=number).first() if number and len(number) <= 32 else None


def transfer_lines_in_transit_read(product_ids):
    """Units in transit to an active warehouse, for these products: (product id, expected date, units) rows, a read
    for ``core.sql.fetch_together`` (the ETA's supply: ``backorders.transit``)."""
    from .models import Transfer, TransferLine

    return (
        TransferLine.objects.filter(
            product_id__in=list(product_ids),
            transfer__status=Transfer.Status.IN_TRANSIT,
            transfer__destination__is_active=True,
        )
        .order_by("product_id", "transfer__expected_date", "pk")
        .values_list("product_id", "transfer__expected_date", "quantity")
    )


def transfer_lines_in_transit(product_id: int) -> list[tuple[None, date, int]]:
    """Units of the product in transit to an active warehouse: (None, expected date, units), a dated supply for ETAs
    (``backorders.supply``; None: not a purchase-order line)."""
    return [(None, expected, quantity) for _, expected, quantity in transfer_lines_in_transit_read([product_id])]
