"""Locking an order together with the stock of its products, in the global lock order."""

from __future__ import annotations

from django.db import transaction

from inventory.locks import stock_items_lock_for_products
from inventory.models import StockItem

from .models import Order, OrderLine


def order_lock_with_stock(order: Order) -> tuple[Order, list[OrderLine]]:
    """Lock stock for every product of the order, then the order, then its lines (the global order).

    The order's products are read before the order is locked (stock comes first), so a line added meanwhile by
    another transaction (a substitute accepted while this one waited for stock) would escape the stock lock.
    So would a stock item created while this one waited: the locking statement sees the rows of its snapshot,
    taken before it waited (a warehouse's first units of a product, then allocated to this order by a transaction
    that got the stock lock first). In either case the locks are taken again, with the larger set, inside a
    savepoint whose rollback releases the first ones. Lines and stock items are never removed, so this ends.
    """
    product_ids = set(OrderLine.objects.filter(order_id=order.pk).values_list("product_id", flat=True))
    while True:
        savepoint = transaction.savepoint()
        items = stock_items_lock_for_products(product_ids)
        locked = (
            Order.objects.select_for_update(no_key=True, of=("self",))
            .select_related("customer", "channel")
            .get(pk=order.pk)
        )
        lines = list(
            OrderLine.objects.select_for_update(no_key=True, of=("self",))
            .filter(order_id=order.pk)
            .select_related("product")
            .order_by("pk")
        )
        missing = {line.product_id for line in lines} - product_ids
        if not missing and not _stock_items_created_since(product_ids, items):
            transaction.savepoint_commit(savepoint)
            break
        transaction.savepoint_rollback(savepoint)
        product_ids |= missing
    locked.stock_items_locked = {item.pk: item for item in items}
    return locked, lines


def _stock_items_created_since(product_ids: set[int], items: list[StockItem]) -> bool:
    """Whether these products have stock items the lock did not return (read with a new snapshot)."""
    locked = {item.pk for item in items}
    return StockItem.objects.filter(product_id__in=product_ids).exclude(pk__in=locked).exists()
