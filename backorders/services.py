"""Backorders: creation, status transitions, events, priority, cancellation and the allocation queue."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from core.actors import actor_label, real_user
from core.errors import InvalidTransition
from inventory.locks import stock_items_lock_for_products

from .exceptions import BackorderClosed, InvalidPriority, NothingToReallocate
from .models import PRIORITY_RANKS, AllocationPolicy, Backorder, BackorderEvent
from .queue import queue_key

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
                created_by=real_user(user),
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
    """Backorder the shortfall of order lines (called inside order placement's transaction, under the stock
    locks). Each new backorder gets its expected date at once (``eta.eta_for_newcomer``)."""
    from .eta import eta_for_newcomer

    policy = policy_active()
    score = policy.score(tier=customer.tier, lifetime_value=customer.lifetime_value)
    rank = PRIORITY_RANKS[order.priority]
    now = timezone.now()
    promises = [
        eta_for_newcomer(
            product_id=line.product_id,
            priority_rank=rank,
            priority_score=score,
            placed_at=order.placed_at,
            quantity=shortfall,
        )
        for line, shortfall in lines
    ]
    backorders = Backorder.objects.bulk_create(
        [
            Backorder(
                order_line=line,
                order=order,
                product_id=line.product_id,
                quantity=shortfall,
                priority=order.priority,
                priority_rank=rank,
                priority_score=score,
                placed_at=order.placed_at,
                eta=eta,
                eta_basis=basis,
                eta_purchase_order_line_id=po_line_id,
                eta_first=eta,
                eta_updated_at=now,
            )
            for (line, shortfall), (eta, basis, po_line_id) in zip(lines, promises, strict=True)
        ]
    )
    from .events import events_record

    events_record(
        [
            BackorderEvent(
                backorder=backorder,
                kind=BackorderEvent.Kind.CREATED,
                quantity=backorder.quantity,
                message=f"{backorder.quantity} unit(s) backordered: not enough stock when the order was placed."
                + (f" Expected {backorder.eta.isoformat()} ({backorder.eta_basis})." if backorder.eta else ""),
                data={
                    "ordered": line.quantity,
                    "allocated_now": line.quantity_allocated,
                    "policy": policy.name,
                    "priority_score": str(score),
                    "eta": backorder.eta.isoformat() if backorder.eta else None,
                    "eta_basis": backorder.eta_basis,
                },
                actor=actor_label(user),
                created_by=real_user(user),
            )
            for backorder, (line, _) in zip(backorders, lines, strict=True)
        ]
    )
    eta_request(product_ids=[backorder.product_id for backorder in backorders])
    return backorders


# --- cancellation and fulfilment (called from the order services, under their locks) ----------


def backorder_cancel_units(*, order_line, quantity: int, line_open_after: int, reason: str = "", user=None) -> None:
    """Cancel ``quantity`` waiting units of a line's backorder and close it when the line is done."""
    backorder = Backorder.objects.select_for_update(no_key=True).filter(order_line=order_line).first()
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
        Backorder.objects.select_for_update(no_key=True)
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
    from core.queue import enqueue_on_commit

    from .tasks import allocate_product

    for product_id in sorted(set(product_ids)):
        enqueue_on_commit(allocate_product, product_id)


def eta_request(*, product_ids: Iterable[int]) -> None:
    """Ask the workers to recompute the ETAs of these products' waiting backorders, after commit."""
    from core.queue import enqueue_on_commit

    from .tasks import eta_recompute

    for product_id in sorted(set(product_ids)):
        enqueue_on_commit(eta_recompute, product_id)


def allocation_run(*, product_id: int, max_attempts: int) -> int:
    """Run the allocation engine for one product with bookkeeping (the task calls this).

    The attempt counter is committed *before* the engine runs, so a message that kills its worker still
    counts; after ``max_attempts`` consecutive failures the product is skipped until staff reset it.
    """
    from django.db import IntegrityError
    from django.db.models import F

    from .allocation import backorders_allocate
    from .models import AllocationRun

    now = timezone.now()
    try:
        with transaction.atomic():
            AllocationRun.objects.get_or_create(product_id=product_id)
    except IntegrityError:  # created by a concurrent run
        pass
    run = AllocationRun.objects.get(product_id=product_id)
    if run.attempts >= max_attempts:
        import logging

        logging.getLogger("oms.tasks").error(
            "Allocation of product %s skipped after %s failed attempts: %s", product_id, run.attempts, run.last_error
        )
        return 0
    AllocationRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1, runs=F("runs") + 1, last_run_at=now)
    try:
        units = backorders_allocate(product_id=product_id)
    except Exception as exc:
        AllocationRun.objects.filter(pk=run.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    AllocationRun.objects.filter(pk=run.pk).update(
        attempts=0, last_error="", last_success_at=timezone.now(), units_allocated=units
    )
    if units:
        with transaction.atomic():
            eta_request(product_ids=[product_id])
    return units


def allocation_run_reset(*, product_id: int) -> None:
    """Let a product that was skipped as a poison message be allocated again (after the cause is fixed)."""
    from .models import AllocationRun

    AllocationRun.objects.filter(product_id=product_id).update(attempts=0, last_error="")
    with transaction.atomic():
        allocation_request_for_products(product_ids=[product_id])


# --- policy -----------------------------------------------------------------------------------


def _score_expression(policy: AllocationPolicy):
    """The policy's score of a customer, as a database expression (AllocationPolicy.score, set-based)."""
    from decimal import Decimal

    from django.db.models import Case, DecimalField, F, Value, When
    from django.db.models.functions import Least, Round

    money = DecimalField(max_digits=14, decimal_places=4)
    tier = Case(
        *[When(tier=name, then=Value(policy.tier_weight(name))) for name in ("standard", "silver", "gold", "platinum")],
        default=Value(Decimal("0")),
        output_field=money,
    )
    ltv = Least(
        F("lifetime_value") * Value(policy.lifetime_value_weight) / Value(Decimal(1000)),
        Value(policy.lifetime_value_cap),
        output_field=money,
    )
    return Round(tier + ltv, 4, output_field=money)


@transaction.atomic
def policy_scores_recompute(*, policy: AllocationPolicy | None = None) -> int:
    """Re-score every waiting backorder with the active policy (one UPDATE); the queues follow at once.

    Returns the number of backorders re-scored. Allocation and ETAs of the affected products are re-run after commit.
    """
    from django.db.models import OuterRef, Subquery

    from orders.models import Customer

    policy = policy or policy_active()
    score = Customer.objects.filter(orders=OuterRef("order_id")).annotate(s=_score_expression(policy)).values("s")[:1]
    waiting = Backorder.objects.filter(status__in=Backorder.WAITING)
    product_ids = set(waiting.values_list("product_id", flat=True).distinct())
    # The stock locks first, like every writer of a queue (allocation, intake, reallocation): without them this
    # UPDATE and an allocation run could lock the same backorders in opposite orders and deadlock.
    stock_items_lock_for_products(product_ids)
    count = waiting.update(priority_score=Subquery(score))
    allocation_request_for_products(product_ids=product_ids)
    eta_request(product_ids=product_ids)
    return count


@transaction.atomic
def policy_activate(*, policy: AllocationPolicy) -> AllocationPolicy:
    """Make this policy the active one (retiring the previous) and re-score the waiting queue."""
    AllocationPolicy.objects.select_for_update().filter(is_active=True).exclude(pk=policy.pk).update(is_active=False)
    if not policy.is_active:
        policy.is_active = True
        policy.save(update_fields=["is_active", "updated_at"])
    policy_scores_recompute(policy=policy)
    return policy


# --- reallocation -----------------------------------------------------------------------------


@transaction.atomic
def backorder_reallocate(*, backorder: Backorder, reason: str = "", quantity: int | None = None, user=None) -> int:
    """Move reserved, unshipped units of lower-priority backorders of the same product to this one.

    Takes from the end of the queue first (the least urgent), never more than this backorder still needs.
    Writes an event on every backorder involved. Returns the units moved.
    """
    from django.db.models import F

    from orders.models import Allocation, Order, OrderLine
    from orders.services import orders_status_refresh

    if quantity is not None and quantity <= 0:
        raise InvalidPriority("quantity must be positive.", details={"quantity": quantity})
    if len(reason) > 300:
        raise InvalidPriority("Keep the reason under 300 characters.", details={"reason": len(reason)})
    stock_items_lock_for_products([backorder.product_id])
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
        for allocation in (
            Allocation.objects.select_for_update().filter(order_line=donor_line).order_by("stock_item_id")
        ):
            if remaining <= 0:
                break
            q = min(allocation.quantity, remaining)
            remaining -= q
            if q == allocation.quantity:
                allocation.delete()
            else:
                Allocation.objects.filter(pk=allocation.pk).update(quantity=F("quantity") - q)
            if not Allocation.objects.filter(order_line=target_line, stock_item_id=allocation.stock_item_id).update(
                quantity=F("quantity") + q
            ):
                Allocation.objects.create(order_line=target_line, stock_item_id=allocation.stock_item_id, quantity=q)
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
        raise NothingToReallocate(f"No reserved, unshipped units to move to backorder {target.pk}.")
    OrderLine.objects.filter(pk=target_line.pk).update(
        quantity_allocated=F("quantity_allocated") + moved_total,
        quantity_backordered=F("quantity_backordered") - moved_total,
    )
    target.quantity_allocated += moved_total
    backorder_transition(backorder=target, status=backorder_status_for(target))
    target.save(update_fields=["quantity_allocated", "status", "allocated_at"])
    from .events import events_record

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
