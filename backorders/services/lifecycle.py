"""A backorder's life: creation, the status transition map, history events, waiting units cancelled, fulfilment."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from core.actors import actor_label, real_user
from core.sql import insert_sql
from core.transitions import status_transition

from ..models import PRIORITY_RANKS, Backorder, BackorderEvent, WorkRequest
from .policy import policy_active
from .requests import eta_request, work_requests_upsert_sql

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
    status_transition(
        backorder,
        status=status,
        allowed=ALLOWED_TRANSITIONS,
        stamps={S.ALLOCATED: "allocated_at", S.FULFILLED: "fulfilled_at", S.CANCELLED: "cancelled_at"},
        label=f"Backorder {backorder.pk}",
    )


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
    from ..events import events_record

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


# --- creation ---------------------------------------------------------------------------------


def newcomer_promises(*, customer, priority: str, placed_at, lines, policy=None) -> list[tuple]:
    """The dates (``eta.NewcomerEta``: promise, basis, po line id, expected date, confidence, overdue units, reason)
    for each ``(product_id, shortfall, units ordered)`` about to join its queue, read in one round trip: what
    placement checks against the requested date and the customer's terms before writing anything."""
    from ..eta import etas_for_newcomers

    policy = policy or policy_active()
    score = policy.score(tier=customer.tier, lifetime_value=customer.lifetime_value)
    return etas_for_newcomers(
        lines=lines, priority_rank=PRIORITY_RANKS[priority], priority_score=score, placed_at=placed_at
    )


def backorders_create(
    *, order, customer, lines, user=None, promises=None, sla_due_at=None, policy=None, one_statement=None
) -> list[Backorder]:
    """Backorder the shortfall of order lines (called inside order placement's transaction, under the stock
    locks). Each new backorder gets its expected date at once (``eta.eta_for_newcomer``; placement may pass the
    ``promises`` it already computed, and the active ``policy`` it read), and its SLA ship-by date when the
    customer's terms set one.

    On PostgreSQL the backorders, their events and the ETA request rows are one statement; elsewhere, or with
    ``one_statement=False``, the same rows through the ORM (tests/backorders/test_backorder_records.py compares them).
    """
    policy = policy or policy_active()
    score = policy.score(tier=customer.tier, lifetime_value=customer.lifetime_value)
    rank = PRIORITY_RANKS[order.priority]
    now = timezone.now()
    if promises is None:
        promises = newcomer_promises(
            customer=customer,
            priority=order.priority,
            placed_at=order.placed_at,
            lines=[(line.product_id, shortfall, line.quantity) for line, shortfall in lines],
            policy=policy,
        )
    if all(len(promise) > 6 for promise in promises):  # read with the dates (eta.etas_for_newcomers)
        reasons = {line.product_id: promise[6] for (line, _), promise in zip(lines, promises, strict=True)}
    else:
        from ..reasons import backorder_reasons

        reasons = backorder_reasons(
            overdue_units={
                line.product_id: promise[5] if len(promise) > 5 else 0
                for (line, _), promise in zip(lines, promises, strict=True)
            }
        )
    backorders = [
        Backorder(
            reason=reasons[line.product_id],
            order_line=line,
            order=order,
            channel_id=order.channel_id,
            product=line.product,
            quantity=shortfall,
            priority=order.priority,
            priority_rank=rank,
            priority_score=score,
            placed_at=order.placed_at,
            eta=eta,
            eta_basis=basis,
            eta_purchase_order_line_id=po_line_id,
            eta_first=eta,
            eta_expected=expected,
            eta_confidence=confidence,
            eta_updated_at=now,
            sla_due_at=sla_due_at,
        )
        for (line, shortfall), (eta, basis, po_line_id, expected, confidence, *_) in zip(lines, promises, strict=True)
    ]
    events = [
        BackorderEvent(
            backorder=backorder,
            kind=BackorderEvent.Kind.CREATED,
            quantity=backorder.quantity,
            message=f"{backorder.quantity} unit(s) backordered: not enough stock when the order was placed."
            + _expected_phrase(backorder),
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
    from ..events import events_announce, events_record

    product_ids = [backorder.product_id for backorder in backorders]
    if one_statement is None:
        one_statement = connection.vendor == "postgresql"
    if one_statement:
        # The backorders, their events and the ETA request rows: one statement (one round trip instead of three).
        _records_write(
            backorders,
            events,
            eta_request_sql=work_requests_upsert_sql(kind=WorkRequest.Kind.ETA, product_ids=product_ids),
        )
        events_announce(events, loaded=True)
        eta_request(product_ids=product_ids, recorded=True, one_message=True)
        return backorders
    Backorder.objects.bulk_create(backorders)
    events_record(events, loaded=True)
    eta_request(product_ids=product_ids, one_message=True)
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


def _records_write(backorders: list[Backorder], events: list[BackorderEvent], *, eta_request_sql) -> None:
    """PostgreSQL: insert the backorders (their lines and order written already) and their events, and record the
    ETA request, in one statement (data-modifying CTEs; rows prepared as ``bulk_create`` prepares them, by
    ``core.sql.insert_sql``). Sets the primary keys on the objects given."""
    backorder_sql, params = insert_sql(backorders, returning=("id", "product_id"))
    event_sql, event_params = insert_sql(
        events,
        columns={"backorder_id": lambda e: ("(SELECT id FROM b WHERE product_id = %s)", [e.backorder.product_id])},
        returning=("id", "backorder_id"),
    )
    request_sql, request_params = eta_request_sql
    sql = (
        f"WITH b AS ({backorder_sql}), e AS ({event_sql}), w AS ({request_sql})"
        " SELECT ARRAY(SELECT ARRAY[id, product_id] FROM b), ARRAY(SELECT ARRAY[id, backorder_id] FROM e)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + event_params + request_params)
        backorder_ids, event_ids = cursor.fetchone()
    by_product = {product_id: pk for pk, product_id in backorder_ids}
    for backorder in backorders:
        backorder.pk = by_product[backorder.product_id]
        backorder._state.adding, backorder._state.db = False, connection.alias
    by_backorder = {backorder_id: pk for pk, backorder_id in event_ids}
    for event in events:
        event.backorder = event.backorder  # now saved: sets backorder_id
        event.pk = by_backorder[event.backorder_id]
        event._state.adding, event._state.db = False, connection.alias


def _expected_phrase(backorder: Backorder) -> str:
    """The promise in words, as staff and API readers see it ("Expected 9 Dec 2026 from an incoming purchase
    order."), not the stored values."""
    if not backorder.eta:
        return ""
    day = f"{backorder.eta.day} {backorder.eta:%b %Y}"
    if backorder.eta_basis == Backorder.EtaBasis.PURCHASE_ORDER:
        return f" Expected {day} from an incoming purchase order."
    if backorder.eta_basis == Backorder.EtaBasis.TRANSFER:
        return f" Expected {day} from units on their way from another warehouse."
    if backorder.eta_basis == Backorder.EtaBasis.PURCHASE_ORDER_HISTORY:
        return f" Promised {day}: an incoming purchase order and the supplier's measured delays."
    if backorder.eta_basis == Backorder.EtaBasis.LEAD_TIME:
        return f" Expected {day}, estimated from the supplier's lead time."
    if backorder.eta_basis == Backorder.EtaBasis.LEAD_TIME_HISTORY:
        return f" Promised {day}, estimated from the supplier's measured lead time."
    return f" Expected {day}."
