"""Taking a lot out of sellable stock — expired, short-dated (the daily task) or put on hold (a recall) — and back.

The lot's allocations are returned first: each order line it served waits again, on its backorder (created when the
units were allocated at placement), which keeps its place in the queue (the queue orders by priority, score and the
order's placed time, none of which changes) and is marked ``lot_expired``; the customer gets one notice per order.
Then the lot's units leave ``on_hand`` through the ledger (kind ``quarantine``), so they are neither available nor
ETA supply. After commit the product's other lots are offered to the queue and its ETAs recomputed.

Lock order, as everywhere: the product's stock items (which guard its lots and lot allocations) → orders → order
lines and backorders, each by primary key.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backorders.events import events_record
from backorders.models import PRIORITY_RANKS, Backorder, BackorderEvent
from backorders.services import (
    S,
    allocation_request_for_products,
    backorder_status_for,
    backorder_transition,
    eta_request,
    policy_active,
)
from core.actors import actor_label, real_user
from inventory.counters import stock_release
from inventory.locks import stock_items_lock_for_products
from inventory.lots import lot_due_for_quarantine, lot_transition, lot_units_quarantine, lot_units_release
from inventory.models import Lot, StockItem
from inventory.signals import stock_added
from orders.lots import lot_allocations_take
from orders.models import Allocation, LotAllocation, Order, OrderLine
from orders.services import orders_status_refresh

L = Lot.Status
LOT_EXPIRED = Backorder.Reason.LOT_EXPIRED


def lots_quarantine_due(*, today: date | None = None) -> int:
    """Quarantine every active lot that is expired or can no longer meet its product's minimum shelf life (one
    transaction per lot, so one bad lot cannot hold the others back). Idempotent. Returns the lots quarantined."""
    today = today or timezone.localdate()
    candidates = (
        Lot.objects.filter(status=L.ACTIVE, expiry_date__isnull=False)
        .select_related("product")
        .order_by("expiry_date", "pk")
    )
    done = 0
    for lot in candidates.iterator():
        if lot_due_for_quarantine(lot, product=lot.product, today=today):
            done += lot_quarantine(lot=lot, today=today) is not None
    return done


@transaction.atomic
def lot_quarantine(*, lot: Lot, today: date | None = None, user=None) -> Lot | None:
    """Quarantine one lot if it is (still) due; None when another run got there first or it is not due."""
    today = today or timezone.localdate()
    items = stock_items_lock_for_products([lot.product_id])
    lot = Lot.objects.select_related("product").get(pk=lot.pk)
    if lot.status != L.ACTIVE or not lot_due_for_quarantine(lot, product=lot.product, today=today):
        return None
    expired = lot.expiry_date < today
    why = (
        f"expired on {lot.expiry_date}"
        if expired
        else (f"expires on {lot.expiry_date}, under the {lot.product.min_shelf_life_days}-day minimum shelf life")
    )
    _take_out(lot=lot, items=items, status=L.QUARANTINED, reason=why, user=user)
    return lot


@transaction.atomic
def lot_hold(*, lot: Lot, reason: str, user=None) -> Lot:
    """Put a lot on hold (a recall): like expiry, its units leave sellable stock and its allocations return."""
    items = stock_items_lock_for_products([lot.product_id])
    lot = Lot.objects.select_related("product").get(pk=lot.pk)
    lot_transition(lot=lot, status=L.ON_HOLD)
    _take_out(lot=lot, items=items, status=L.ON_HOLD, reason=reason, user=user)
    return lot


@transaction.atomic
def lot_release(*, lot: Lot, reason: str = "", user=None) -> Lot:
    """Lift a hold: the units come back into sellable stock and are offered to the queue — unless the lot has
    meanwhile expired or fallen under its product's minimum, then it stays out, quarantined."""
    items = {item.pk: item for item in stock_items_lock_for_products([lot.product_id])}
    lot = Lot.objects.select_related("product").get(pk=lot.pk)
    today = timezone.localdate()
    status = L.QUARANTINED if lot_due_for_quarantine(lot, product=lot.product, today=today) else L.ACTIVE
    lot_transition(lot=lot, status=status, from_hold=True)
    lot.status = status
    lot.hold_reason = reason[:200] if status == L.ACTIVE else f"released from hold, but {lot.expiry_date} is too soon"
    lot.status_changed_at = timezone.now()
    lot.save(update_fields=["status", "hold_reason", "status_changed_at", "updated_at"])
    if status == L.ACTIVE:
        lot_units_release(lot=lot, stock_item=items[lot.stock_item_id], reason=f"Hold lifted: {reason}", user=user)
        stock_added.send(sender=StockItem, stock_item_ids=[lot.stock_item_id])
        eta_request(product_ids=[lot.product_id])
    return lot


def _take_out(*, lot: Lot, items, status: str, reason: str, user=None) -> None:
    returned = _allocations_return(lot=lot, reason=reason, user=user)
    lot.refresh_from_db(fields=["on_hand", "allocated", "quarantined"])
    item = {i.pk: i for i in items}[lot.stock_item_id]
    item.refresh_from_db(fields=["on_hand", "allocated"])
    label = "On hold" if status == L.ON_HOLD else "Quarantined"
    lot_units_quarantine(lot=lot, stock_item=item, reason=f"{label}: {reason}", user=user)
    lot.status = status
    lot.hold_reason = reason[:200]
    lot.status_changed_at = timezone.now()
    lot.save(update_fields=["status", "hold_reason", "status_changed_at", "updated_at"])
    if returned:  # other lots may serve the returned units; either way the dates move
        allocation_request_for_products(product_ids=[lot.product_id])
    eta_request(product_ids=[lot.product_id])


def _allocations_return(*, lot: Lot, reason: str, user=None) -> int:
    """Every unit of ``lot`` reserved for an order line goes back: the line waits for it again on its backorder."""
    held = list(
        LotAllocation.objects.filter(lot=lot).order_by("order_line_id").values_list("order_line_id", "quantity")
    )
    if not held:
        return 0
    line_ids = [line_id for line_id, _ in held]
    order_ids = sorted(set(OrderLine.objects.filter(pk__in=line_ids).values_list("order_id", flat=True)))
    orders = {
        o.pk: o
        for o in Order.objects.select_for_update(no_key=True, of=("self",))
        .select_related("customer")
        .filter(pk__in=order_ids)
        .order_by("pk")
    }
    lines = {
        line.pk: line
        for line in OrderLine.objects.select_for_update(no_key=True).filter(pk__in=line_ids).order_by("pk")
    }
    backorders = {
        b.order_line_id: b
        for b in Backorder.objects.select_for_update(no_key=True).filter(order_line_id__in=line_ids).order_by("pk")
    }
    policy = None
    events: list[BackorderEvent] = []
    released: dict[int, int] = defaultdict(int)
    for line_id, quantity in held:
        line = lines[line_id]
        lot_allocations_take(order_line_id=line_id, stock_item_id=lot.stock_item_id, quantity=quantity)
        allocation = Allocation.objects.get(order_line_id=line_id, stock_item_id=lot.stock_item_id)
        if allocation.quantity == quantity:
            allocation.delete()
        else:
            Allocation.objects.filter(pk=allocation.pk).update(quantity=F("quantity") - quantity)
        released[lot.stock_item_id] += quantity
        OrderLine.objects.filter(pk=line_id).update(
            quantity_allocated=F("quantity_allocated") - quantity,
            quantity_backordered=F("quantity_backordered") + quantity,
        )
        backorder = backorders.get(line_id)
        if backorder is None:  # allocated at placement: it waits now, in the order's place in the queue
            order = orders[line.order_id]
            policy = policy or policy_active()
            backorder = Backorder.objects.create(
                order_line=line,
                order=order,
                channel_id=order.channel_id,
                product_id=line.product_id,
                quantity=quantity,
                reason=LOT_EXPIRED,
                priority=order.priority,
                priority_rank=PRIORITY_RANKS[order.priority],
                priority_score=policy.score(tier=order.customer.tier, lifetime_value=order.customer.lifetime_value),
                placed_at=order.placed_at,
                sla_due_at=None,
            )
        elif backorder.status in (S.OPEN, S.PARTIALLY_ALLOCATED, S.ALLOCATED):
            from_queue = min(quantity, backorder.quantity_allocated)
            backorder.quantity_allocated -= from_queue
            backorder.quantity += quantity - from_queue  # units reserved at placement wait on it too
            backorder_transition(backorder=backorder, status=backorder_status_for(backorder))
            backorder.reason = LOT_EXPIRED
            backorder.save(update_fields=["quantity", "quantity_allocated", "status", "allocated_at", "reason"])
        else:  # its waiting units were cancelled: the reserved units can no longer be waited for on it
            OrderLine.objects.filter(pk=line_id).update(
                quantity_backordered=F("quantity_backordered") - quantity,
                quantity_cancelled=F("quantity_cancelled") + quantity,
            )
        events += _events(backorder=backorder, quantity=quantity, lot=lot, reason=reason, user=user)
    stock_release(quantities=released)
    events_record(events)
    orders_status_refresh(order_ids=set(order_ids))
    return sum(q for _, q in held)


def _events(*, backorder: Backorder, quantity: int, lot: Lot, reason: str, user=None) -> list[BackorderEvent]:
    data = {"reason": LOT_EXPIRED, "lot": lot.number, "why": reason}
    note = (
        f"{quantity} unit(s) reserved for you came from a lot that can no longer be shipped ({reason}). "
        "Your order keeps its place in the queue and will be served from fresh stock."
    )
    common = {"backorder": backorder, "quantity": quantity, "actor": actor_label(user), "created_by": real_user(user)}
    return [
        BackorderEvent(
            kind=BackorderEvent.Kind.DEALLOCATED,
            message=f"{quantity} unit(s) of lot {lot.number} returned: {reason}.",
            data=data,
            **common,
        ),
        # The one customer notice (notifications: a note with customer_update is sent as an update).
        BackorderEvent(
            kind=BackorderEvent.Kind.NOTE, message=note, data={**data, "customer_update": True, "note": note}, **common
        ),
    ]
