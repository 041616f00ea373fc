"""The allocation engine: hands free stock to waiting backorders in queue order."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from .models import Backorder, BackorderEvent
from .services import S, backorder_event_record, backorder_status_for, backorder_transition, policy_active


@transaction.atomic
def allocate_product(*, product_id: int) -> int:
    """Offer the free stock of a product to its waiting backorders in queue order. Returns units allocated.

    Acts on the database state only, so running it twice, or in two workers at once, is harmless.
    """
    from inventory.locks import stock_items_lock_for_products
    from inventory.models import StockItem
    from orders.models import Allocation, OrderLine
    from orders.services import orders_status_refresh

    items = [item for item in stock_items_lock_for_products([product_id]) if item.available > 0]
    if not items:
        return 0
    free = sum(item.available for item in items)
    queue = list(
        Backorder.objects.select_for_update()
        .filter(product_id=product_id, status__in=Backorder.WAITING)
        .order_by("-priority_rank", "-priority_score", "placed_at", "id")
    )
    total = 0
    touched_orders = set()
    position = 0
    for backorder in queue:
        position += 1
        if free <= 0:
            break
        give = min(backorder.quantity_outstanding, free)
        free -= give
        total += give
        remaining = give
        for item in items:
            if remaining <= 0:
                break
            q = min(item.available, remaining)
            if q <= 0:
                continue
            item.allocated += q
            remaining -= q
            StockItem.objects.filter(pk=item.pk).update(allocated=F("allocated") + q)
            updated = Allocation.objects.filter(order_line_id=backorder.order_line_id, stock_item=item).update(
                quantity=F("quantity") + q
            )
            if not updated:
                Allocation.objects.create(order_line_id=backorder.order_line_id, stock_item=item, quantity=q)
        OrderLine.objects.filter(pk=backorder.order_line_id).update(
            quantity_allocated=F("quantity_allocated") + give, quantity_backordered=F("quantity_backordered") - give
        )
        backorder.quantity_allocated += give
        backorder_transition(backorder=backorder, status=backorder_status_for(backorder))
        backorder.save(update_fields=["quantity_allocated", "status", "allocated_at"])
        backorder_event_record(
            backorder=backorder,
            kind=(
                BackorderEvent.Kind.ALLOCATED
                if backorder.status == S.ALLOCATED
                else BackorderEvent.Kind.PARTIALLY_ALLOCATED
            ),
            quantity=give,
            message=f"{give} unit(s) allocated from stock (queue position {position}).",
            data={"queue_position": position, "policy": policy_active().name},
        )
        touched_orders.add(backorder.order_id)
    orders_status_refresh(order_ids=touched_orders)
    return total
