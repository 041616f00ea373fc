"""Backorders: creation, status transitions, events, priority, cancellation and the allocation queue."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from config.errors import InvalidTransition
from inventory.services import _real_user, actor_label

from .exceptions import BackorderClosed, InvalidPriority
from .models import PRIORITY_RANKS, AllocationPolicy, Backorder, BackorderEvent

S = Backorder.Status

ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.PARTIALLY_ALLOCATED, S.ALLOCATED, S.CANCELLED},
    S.PARTIALLY_ALLOCATED: {S.OPEN, S.ALLOCATED, S.CANCELLED, S.FULFILLED},
    # An allocated backorder can lose units to a more urgent one (reallocation) before it ships.
    S.ALLOCATED: {S.OPEN, S.PARTIALLY_ALLOCATED, S.FULFILLED, S.CANCELLED},
    S.FULFILLED: set(),
    S.CANCELLED: set(),
}


def backorder_transition(*, backorder: Backorder, status: str) -> None:
    """The one place a backorder's status changes; sets the matching timestamp."""
    if status == backorder.status:
        return
    if status not in ALLOWED_TRANSITIONS[backorder.status]:
        raise InvalidTransition(
            f"Backorder {backorder.pk} cannot go from {backorder.status} to {status}.",
            details={"from": backorder.status, "to": status},
        )
    now = timezone.now()
    backorder.status = status
    if status == S.ALLOCATED:
        backorder.allocated_at = now
    elif status == S.FULFILLED:
        backorder.fulfilled_at = now
    elif status == S.CANCELLED:
        backorder.cancelled_at = now


def backorder_status_for(backorder: Backorder) -> str:
    """The waiting status a backorder's quantities imply (open / partially allocated / allocated)."""
    if backorder.quantity_outstanding > 0:
        return S.PARTIALLY_ALLOCATED if backorder.quantity_allocated else S.OPEN
    return S.ALLOCATED if backorder.quantity_allocated else S.CANCELLED


def backorder_event_record(
    *,
    backorder: Backorder,
    kind: str,
    quantity: int | None = None,
    message: str = "",
    data: dict | None = None,
    user=None,
) -> BackorderEvent:
    from .events import events_record

    [event] = events_record(
        [
            BackorderEvent(
                backorder=backorder,
                kind=kind,
                quantity=quantity,
                message=message,
                data=data or {},
                actor=actor_label(user),
                created_by=_real_user(user),
            )
        ]
    )
    return event


# --- policy -----------------------------------------------------------------------------------


def policy_active() -> AllocationPolicy:
    policy = AllocationPolicy.objects.filter(is_active=True).first()
    if policy is None:
        policy, _ = AllocationPolicy.objects.get_or_create(
            name="Default", defaults={"is_active": not AllocationPolicy.objects.filter(is_active=True).exists()}
        )
    return policy


# --- creation ---------------------------------------------------------------------------------


def backorders_create(*, order, customer, lines, user=None) -> list[Backorder]:
    """Backorder the shortfall of order lines (called inside order placement's transaction)."""
    policy = policy_active()
    score = policy.score(tier=customer.tier, lifetime_value=customer.lifetime_value)
    backorders = Backorder.objects.bulk_create(
        [
            Backorder(
                order_line=line,
                order=order,
                product_id=line.product_id,
                quantity=shortfall,
                priority=order.priority,
                priority_rank=PRIORITY_RANKS[order.priority],
                priority_score=score,
                placed_at=order.placed_at,
            )
            for line, shortfall in lines
        ]
    )
    from .events import events_record

    events_record(
        [
            BackorderEvent(
                backorder=backorder,
                kind=BackorderEvent.Kind.CREATED,
                quantity=backorder.quantity,
                message=f"{backorder.quantity} unit(s) backordered: not enough stock when the order was placed.",
                data={
                    "ordered": line.quantity,
                    "allocated_now": line.quantity_allocated,
                    "policy": policy.name,
                    "priority_score": str(score),
                },
                actor=actor_label(user),
                created_by=_real_user(user),
            )
            for backorder, (line, _) in zip(backorders, lines, strict=True)
        ]
    )
    return backorders


# --- cancellation and fulfilment (called from the order services, under their locks) ----------


def backorder_cancel_units(*, order_line, quantity: int, line_open_after: int, reason: str = "", user=None) -> None:
    """Cancel ``quantity`` waiting units of a line's backorder and close it when the line is done."""
    backorder = Backorder.objects.select_for_update().filter(order_line=order_line).first()
    if backorder is None or backorder.status in (S.FULFILLED, S.CANCELLED):
        return
    backorder.quantity_cancelled += quantity
    if backorder.quantity_outstanding > 0:
        status = backorder_status_for(backorder)
    elif line_open_after == 0:
        shipped_some = order_line.quantity_shipped > 0 and backorder.quantity_allocated > 0
        status = S.FULFILLED if shipped_some else S.CANCELLED
    else:
        status = backorder_status_for(backorder)
    backorder_transition(backorder=backorder, status=status)
    backorder.save(update_fields=["quantity_cancelled", "status", "allocated_at", "fulfilled_at", "cancelled_at"])
    if quantity or status == S.CANCELLED:
        backorder_event_record(
            backorder=backorder,
            kind=BackorderEvent.Kind.CANCELLED,
            quantity=quantity,
            message=f"{quantity} waiting unit(s) cancelled." + (f" Reason: {reason}" if reason else ""),
            data={"reason": reason, "status": status},
            user=user,
        )


def backorders_mark_fulfilled(*, order_line_ids: Iterable[int], user=None, shipment=None) -> None:
    """Backorders whose units are all allocated become fulfilled when their line ships."""
    for backorder in (
        Backorder.objects.select_for_update()
        .filter(order_line_id__in=list(order_line_ids), status=S.ALLOCATED)
        .order_by("pk")
    ):
        backorder_transition(backorder=backorder, status=S.FULFILLED)
        backorder.save(update_fields=["status", "fulfilled_at"])
        backorder_event_record(
            backorder=backorder,
            kind=BackorderEvent.Kind.FULFILLED,
            quantity=backorder.quantity_allocated,
            message="Shipped to the customer.",
            data={"shipment": shipment.pk if shipment else None},
            user=user,
        )


def backorder_cancel(*, backorder: Backorder, reason: str = "", user=None) -> Backorder:
    """Cancel every unit still waiting on this backorder (what is already reserved still ships)."""
    from orders.services import CancelRequest, order_cancel

    if not backorder.is_waiting:
        raise BackorderClosed(
            f"Backorder {backorder.pk} is {backorder.status}; nothing is waiting to cancel.",
            details={"status": backorder.status},
        )
    order_cancel(
        order=backorder.order,
        lines=[CancelRequest(sku=backorder.product.sku, quantity=backorder.quantity_outstanding)],
        reason=reason,
        user=user,
    )
    backorder.refresh_from_db()
    return backorder


@transaction.atomic
def backorder_priority_change(*, backorder: Backorder, priority: str, reason: str, user=None) -> Backorder:
    if priority not in PRIORITY_RANKS:
        raise InvalidPriority(
            f"Priority must be one of {', '.join(PRIORITY_RANKS)}.", details={"allowed": list(PRIORITY_RANKS)}
        )
    if not reason or not reason.strip():
        raise InvalidPriority("Say why the priority changes (reason is required).", details={"reason": ""})
    backorder = Backorder.objects.select_for_update().get(pk=backorder.pk)
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
    # The queue order changed: free stock (if any) may now belong to this backorder.
    allocation_request_for_products(product_ids=[backorder.product_id])
    return backorder


def backorders_after_product_change(*, product) -> None:
    """A product that can no longer be backordered cancels the units still waiting for it."""
    if product.can_backorder:
        return
    from orders.services import CancelRequest, order_cancel

    waiting = list(
        Backorder.objects.filter(product=product, status__in=Backorder.WAITING).select_related("order", "product")
    )
    for backorder in waiting:
        order_cancel(
            order=backorder.order,
            lines=[CancelRequest(sku=product.sku, quantity=backorder.quantity_outstanding)],
            reason="Product discontinued" if product.status == "discontinued" else "Product no longer backorderable",
        )


# --- allocation queue ------------------------------------------------------------------------


def allocation_request(*, stock_item_ids: Iterable[int]) -> None:
    """Ask the workers to offer the free stock of these items to the queue, after commit."""
    from inventory.models import StockItem

    ids = list(stock_item_ids)
    if not ids:
        return
    product_ids = set(StockItem.objects.filter(pk__in=ids).values_list("product_id", flat=True))
    allocation_request_for_products(product_ids=product_ids)


def allocation_request_for_products(*, product_ids: Iterable[int]) -> None:
    from config.celery import enqueue_on_commit

    from .tasks import allocate_product

    for product_id in sorted(set(product_ids)):
        enqueue_on_commit(allocate_product, product_id)
