"""Locking an order together with the stock of its products, in the global lock order."""

from __future__ import annotations

from django.db import transaction

from inventory.locks import stock_items_lock_for_products

from .models import Order, OrderLine


def order_lock_with_stock(order: Order) -> tuple[Order, list[OrderLine]]:
    """Lock stock for every product of the order, then the order, then its lines (the global order).

    The order's products are read before the order is locked (stock comes first), so a line added meanwhile by
    another transaction (a substitute accepted while this one waited for stock) would escape the stock lock.
    Then the locks are taken again with the larger set, inside a savepoint whose rollback releases the first
    ones. Lines are never removed, so this ends.
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
        if not missing:
            transaction.savepoint_commit(savepoint)
            break
        transaction.savepoint_rollback(savepoint)
        product_ids |= missing
    locked.stock_items_locked = {item.pk: item for item in items}
    return locked, lines
