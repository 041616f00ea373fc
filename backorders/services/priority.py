"""Staff decisions on the queue: a backorder's priority, and moving reserved units to a more urgent backorder."""

from __future__ import annotations

from django.db import transaction

from core.actors import actor_label, real_user
from inventory.locks import stock_items_lock_for_products

from ..exceptions import BackorderClosed, InvalidPriority, NothingToReallocate
from ..models import PRIORITY_RANKS, Backorder, BackorderEvent
from ..queue import queue_key
from .lifecycle import S, backorder_event_record, backorder_status_for, backorder_transition
from .requests import allocation_request_for_products, eta_request


@transaction.atomic
def backorder_priority_change(*, backorder: Backorder, priority: str, reason: str, user=None) -> Backorder:
    if priority not in PRIORITY_RANKS:
        raise InvalidPriority(
            f"Priority must be one of {', '.join(PRIORITY_RANKS)}.", details={"allowed": list(PRIORITY_RANKS)}
        )
    if not reason or not reason.strip():
        raise InvalidPriority("Say why the priority changes (reason is required).", details={"reason": ""})
    if len(reason) > 300:
        raise InvalidPriority("Keep the reason under 300 characters.", details={"reason": len(reason)})
    # The global lock order (stock first), like every other writer of the queue.
    stock_items_lock_for_products([backorder.product_id])
    backorder = Backorder.objects.select_for_update(no_key=True).get(pk=backorder.pk)
    if not backorder.is_waiting:
        raise BackorderClosed(f"Backorder {backorder.pk} is {backorder.status}; its priority no longer matters.")
    old = backorder.priority
    if old == priority:
        return backorder
    backorder.priority = priority
    backorder.priority_rank = PRIORITY_RANKS[priority]
    backorder.save(update_fields=["priority", "priority_rank"])
    backorder_event_record(
        backorder=backorder,
        kind=BackorderEvent.Kind.PRIORITY_CHANGED,
        message=f"Priority {old} → {priority}: {reason}",
        data={"old": old, "new": priority, "reason": reason},
        user=user,
    )
    # The queue order changed: free stock (if any) may now belong to this backorder, and the ETAs move.
    allocation_request_for_products(product_ids=[backorder.product_id])
    eta_request(product_ids=[backorder.product_id])
    return backorder


@transaction.atomic
def backorder_reallocate(*, backorder: Backorder, reason: str = "", quantity: int | None = None, user=None) -> int:
    """Move reserved, unshipped units of lower-priority backorders of the same product to this one.

    Takes from the end of the queue first (the least urgent), never more than this backorder still needs.
    Writes an event on every backorder involved. Returns the units moved.
    """
    from django.db.models import F

    from inventory.models import Product
    from orders.lots import lot_allocations_add, lot_allocations_take
    from orders.models import Allocation, Order, OrderLine
    from orders.selectors import channel_warehouses_by_channel
    from orders.services import orders_status_refresh

    if quantity is not None and quantity <= 0:
        raise InvalidPriority("quantity must be positive.", details={"quantity": quantity})
    if len(reason) > 300:
        raise InvalidPriority("Keep the reason under 300 characters.", details={"reason": len(reason)})
    stock_items_lock_for_products([backorder.product_id])
    tracked = Product.objects.filter(pk=backorder.product_id, tracking=Product.Tracking.LOT).exists()
    current = Backorder.objects.get(pk=backorder.pk)
    if not current.is_waiting:
        raise BackorderClosed(
            f"Backorder {current.pk} is {current.status}; it waits for nothing.", details={"status": current.status}
        )
    donors = [
        b
        for b in Backorder.objects.filter(
            product_id=current.product_id, status__in=[S.PARTIALLY_ALLOCATED, S.ALLOCATED], quantity_allocated__gt=0
        ).exclude(pk=current.pk)
        if queue_key(b) > queue_key(current)
    ]
    if not donors:
        raise NothingToReallocate(
            f"No lower-priority backorder of this product holds reserved units for backorder {current.pk}.",
        )
    # Global lock order: stock (held) → orders → order lines/backorders, each by primary key.
    list(
        Order.objects.select_for_update(no_key=True)
        .filter(pk__in={current.order_id, *(d.order_id for d in donors)})
        .order_by("pk")
    )
    locked = {
        b.pk: b
        for b in Backorder.objects.select_for_update(no_key=True)
        .filter(pk__in=[current.pk, *(d.pk for d in donors)])
        .order_by("pk")
    }
    lines = {
        line.pk: line
        for line in OrderLine.objects.select_for_update(no_key=True)
        .filter(pk__in=[b.order_line_id for b in locked.values()])
        .order_by("pk")
    }
    target = locked[current.pk]
    if not target.is_waiting:
        raise BackorderClosed(f"Backorder {target.pk} is {target.status}; it waits for nothing.")
    wanted = min(quantity or target.quantity_outstanding, target.quantity_outstanding)
    moved_total = 0
    moves: list[tuple[Backorder, int]] = []
    target_line = lines[target.order_line_id]
    # Routing holds for staff moves too (inventory/routing.py): only units in warehouses the receiving order's channel
    # ships from move, and an order that refuses splits takes them whole from one warehouse, or not at all.
    target_order = Order.objects.only("channel_id", "allow_split").get(pk=target.order_id)
    channel_id = target_order.channel_id
    allowed = channel_warehouses_by_channel([channel_id]).get(channel_id) if channel_id else None
    routable = Allocation.objects.select_for_update().order_by("stock_item_id")
    if allowed:
        routable = routable.filter(stock_item__warehouse_id__in=allowed)
    warehouses_moved: set[int] = set()
    for donor in sorted((locked[d.pk] for d in donors), key=queue_key, reverse=True):
        if moved_total >= wanted:
            break
        if donor.status not in (S.PARTIALLY_ALLOCATED, S.ALLOCATED):
            continue
        donor_line = lines[donor.order_line_id]
        movable = min(donor.quantity_allocated, donor_line.quantity_allocated, wanted - moved_total)
        if movable <= 0:
            continue
        remaining = movable
        for allocation in routable.filter(order_line=donor_line).select_related("stock_item"):
            if remaining <= 0:
                break
            q = min(allocation.quantity, remaining)
            remaining -= q
            warehouses_moved.add(allocation.stock_item.warehouse_id)
            if q == allocation.quantity:
                allocation.delete()
            else:
                Allocation.objects.filter(pk=allocation.pk).update(quantity=F("quantity") - q)
            if not Allocation.objects.filter(order_line=target_line, stock_item_id=allocation.stock_item_id).update(
                quantity=F("quantity") + q
            ):
                Allocation.objects.create(order_line=target_line, stock_item_id=allocation.stock_item_id, quantity=q)
            if tracked:  # the lot units change hands with the allocation
                taken = lot_allocations_take(
                    order_line_id=donor_line.pk, stock_item_id=allocation.stock_item_id, quantity=q, release=False
                )
                lot_allocations_add(picks=[(target_line.pk, lot_id, n) for lot_id, n in taken], move_counters=False)
        movable -= remaining  # what the receiving order's warehouses held
        if movable <= 0:
            continue
        OrderLine.objects.filter(pk=donor_line.pk).update(
            quantity_allocated=F("quantity_allocated") - movable,
            quantity_backordered=F("quantity_backordered") + movable,
        )
        donor_line.quantity_allocated -= movable
        donor.quantity_allocated -= movable
        backorder_transition(backorder=donor, status=backorder_status_for(donor))
        donor.save(update_fields=["quantity_allocated", "status", "allocated_at"])
        moves.append((donor, movable))
        moved_total += movable
    if not moved_total:
        raise NothingToReallocate(
            f"No reserved, unshipped units to move to backorder {target.pk}"
            + (" in the warehouses its channel ships from." if allowed else ".")
        )
    if not target_order.allow_split and (moved_total < target.quantity_outstanding or len(warehouses_moved) > 1):
        # Rolled back with the transaction: nothing of the moves above is written.
        raise NothingToReallocate(
            f"Order of backorder {target.pk} is not to be split: its {target.quantity_outstanding} unit(s) must come "
            "whole from one warehouse, and lower-priority reservations do not hold that many in one.",
            details={"allow_split": False, "outstanding": target.quantity_outstanding},
        )
    OrderLine.objects.filter(pk=target_line.pk).update(
        quantity_allocated=F("quantity_allocated") + moved_total,
        quantity_backordered=F("quantity_backordered") - moved_total,
    )
    target.quantity_allocated += moved_total
    backorder_transition(backorder=target, status=backorder_status_for(target))
    target.save(update_fields=["quantity_allocated", "status", "allocated_at"])
    from ..events import events_record

    why = f" Reason: {reason}" if reason else ""
    events_record(
        [
            BackorderEvent(
                backorder=target,
                kind=BackorderEvent.Kind.ALLOCATED
                if target.status == S.ALLOCATED
                else BackorderEvent.Kind.PARTIALLY_ALLOCATED,
                quantity=moved_total,
                message=f"{moved_total} unit(s) reallocated from lower-priority backorders.{why}",
                data={"reallocated_from": {str(d.pk): q for d, q in moves}, "reason": reason},
                actor=actor_label(user),
                created_by=real_user(user),
            ),
            *(
                BackorderEvent(
                    backorder=donor,
                    kind=BackorderEvent.Kind.DEALLOCATED,
                    quantity=q,
                    message=f"{q} reserved unit(s) moved to higher-priority backorder {target.pk}.{why}",
                    data={"reallocated_to": target.pk, "reason": reason},
                    actor=actor_label(user),
                    created_by=real_user(user),
                )
                for donor, q in moves
            ),
        ]
    )
    orders_status_refresh(order_ids={target.order_id, *(d.order_id for d, _ in moves)})
    eta_request(product_ids=[target.product_id])
    return moved_total
