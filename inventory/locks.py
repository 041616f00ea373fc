"""The only place stock rows are locked.

Every transaction that changes stock locks the stock items it needs *first*, all at once, in primary
key order, before it locks orders, order lines or backorders. Two transactions therefore never wait on
each other in a circle. No NOWAIT / SKIP LOCKED here: a stock path waits its turn rather than guess.

Row locks on stock items, orders, order lines, backorders and purchase orders are FOR NO KEY UPDATE
(``select_for_update(no_key=True)``): they exclude each other exactly like FOR UPDATE, but not the FOR KEY
SHARE that PostgreSQL takes on a row when another transaction inserts a row referencing it (a foreign-key
check). With FOR UPDATE those checks join the lock graph outside the fixed order, e.g. two allocation runs
for different products each insert an event for an order the other then wants to lock. These rows are never
deleted and their keys never change under these locks, which is all FOR UPDATE would add.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import StockItem


def stock_items_lock_for_products(product_ids: Iterable[int], **annotations) -> list[StockItem]:
    """Lock every stock item of the given products (all warehouses), in pk order.

    ``annotations`` are read in the same statement (e.g. a scalar subquery), saving a round trip on hot paths.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return []
    queryset = StockItem.objects.select_for_update(no_key=True).filter(product_id__in=ids)
    if annotations:
        queryset = queryset.annotate(**annotations)
    return list(queryset.order_by("pk"))


def stock_items_lock_for_skus(skus: Iterable[str], **annotations) -> list[StockItem]:
    """Lock every stock item of the products with these SKUs (all warehouses), in pk order, each with its product
    (read, not locked) — the product lookup and the lock in one round trip. A product without any stock item is not
    in the result; the caller reads those separately.

    The same rows in the same order as ``stock_items_lock_for_products`` for these products: callers may mix both.
    """
    wanted = sorted(set(skus))
    if not wanted:
        return []
    queryset = (
        StockItem.objects.select_for_update(no_key=True, of=("self",))
        .select_related("product")
        .filter(product__sku__in=wanted)
    )
    if annotations:
        queryset = queryset.annotate(**annotations)
    return list(queryset.order_by("pk"))


def stock_items_lock(stock_item_ids: Iterable[int]) -> list[StockItem]:
    ids = sorted(set(stock_item_ids))
    if not ids:
        return []
    return list(StockItem.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))
