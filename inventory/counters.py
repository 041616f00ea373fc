"""The one writer of stock counters: every change to ``StockItem.on_hand`` and ``StockItem.allocated`` is made here.

Callers hold the stock items' locks (``inventory.locks``) and are inside their own transaction; the functions here
only move the counters (with ``F()`` expressions, never a read-modify-write) and keep the in-memory copies the caller
holds in step. The database's CHECK constraints (on hand ≥ 0, 0 ≤ allocated ≤ on hand) are the last line of
defence; callers check first so the error is clear.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection
from django.db.models import F

from core.actors import actor_label, real_user

from .models import Lot, StockItem, StockMovement


def stock_movement_apply(
    *,
    stock_item: StockItem,
    kind: str,
    quantity: int,
    reason: str = "",
    reference: str = "",
    user=None,
    allocated_delta: int = 0,
    lot: Lot | None = None,
    received_delta: int = 0,
    quarantined_delta: int = 0,
) -> StockMovement:
    """Move on_hand (and optionally allocated) of a *locked* stock item and write the ledger row.

    With ``lot`` (a lot-tracked product; the lot belongs to ``stock_item``, whose lock guards it) the lot's counters
    move the same way, with its received and quarantined units, and the ledger row names the lot.
    """
    StockItem.objects.filter(pk=stock_item.pk).update(
        on_hand=F("on_hand") + quantity, allocated=F("allocated") + allocated_delta
    )
    stock_item.on_hand += quantity
    stock_item.allocated += allocated_delta
    if lot is not None:
        Lot.objects.filter(pk=lot.pk).update(
            on_hand=F("on_hand") + quantity,
            allocated=F("allocated") + allocated_delta,
            quantity_received=F("quantity_received") + received_delta,
            quarantined=F("quarantined") + quarantined_delta,
        )
        lot.on_hand += quantity
        lot.allocated += allocated_delta
        lot.quantity_received += received_delta
        lot.quarantined += quarantined_delta
    return StockMovement.objects.create(
        stock_item=stock_item,
        lot=lot,
        kind=kind,
        quantity=quantity,
        reason=reason,
        reference=reference,
        created_by=real_user(user),
        actor=actor_label(user),
    )


def stock_allocate(*, quantities: Mapping[int, int], items: Mapping[int, StockItem] | None = None) -> None:
    """Reserve units of *locked* stock items: ``quantities`` maps stock item id → units (negative releases).

    ``items`` (stock item id → the caller's locked copy) are kept in step, so the caller's ``available`` stays right.
    """
    for item_pk in sorted(quantities):
        delta = quantities[item_pk]
        if not delta:
            continue
        StockItem.objects.filter(pk=item_pk).update(allocated=F("allocated") + delta)
        if items is not None and item_pk in items:
            items[item_pk].allocated += delta


def lot_allocate(*, quantities: Mapping[int, int], lots: Mapping[int, Lot] | None = None) -> None:
    """Reserve units of lots (lot id → units, negative releases), beside ``stock_allocate`` of their stock items
    (the caller holds those locks, which guard the lots). ``lots`` (lot id → the caller's copy) are kept in step."""
    for lot_pk in sorted(quantities):
        delta = quantities[lot_pk]
        if not delta:
            continue
        Lot.objects.filter(pk=lot_pk).update(allocated=F("allocated") + delta)
        if lots is not None and lot_pk in lots:
            lots[lot_pk].allocated += delta


def lot_allocate_sql(source: str) -> str:
    """The set-based twin of ``lot_allocate``: a data-modifying CTE body adding ``qty`` per ``lot_id`` of the
    relation ``source`` to the lots' ``allocated``."""
    table = Lot._meta.db_table
    return (
        f"UPDATE {table} t SET allocated = t.allocated + x.qty"
        f" FROM (SELECT lot_id, SUM(qty) AS qty FROM {source} GROUP BY lot_id) x"
        " WHERE t.id = x.lot_id RETURNING t.id"
    )


def stock_release(*, quantities: Mapping[int, int]) -> None:
    """Give reserved units back to the pool: ``quantities`` maps stock item id → units released."""
    stock_allocate(quantities={pk: -q for pk, q in quantities.items()})


def stock_allocate_sql(source: str) -> str:
    """The set-based twin of ``stock_allocate`` for one statement of the allocation engine: a data-modifying CTE body
    that adds ``qty`` per ``stock_item_id`` of the relation ``source`` to the stock items' ``allocated``."""
    table = StockItem._meta.db_table
    return (
        f"UPDATE {table} s SET allocated = s.allocated + x.qty"
        f" FROM (SELECT stock_item_id, SUM(qty) AS qty FROM {source} GROUP BY stock_item_id) x"
        " WHERE s.id = x.stock_item_id RETURNING s.id"
    )


def stock_allocate_statement(*, quantities: Mapping[int, int], items: Mapping[int, StockItem] | None = None):
    """``stock_allocate`` as a data-modifying CTE body (SQL, params) for a caller that writes several tables in one
    statement (order placement): adds ``quantities`` (stock item id → units) to the *locked* items' ``allocated`` and
    returns one row per item changed. ``items`` are kept in step, as ``stock_allocate`` does."""
    ids = sorted(pk for pk, q in quantities.items() if q)
    sql = stock_allocate_picked_statement(source="SELECT * FROM unnest(%s::bigint[], %s::integer[])")
    if items is not None:
        for pk in ids:
            if pk in items:
                items[pk].allocated += quantities[pk]
    return sql, [ids, [quantities[pk] for pk in ids]]


def stock_allocate_picked_statement(*, source: str) -> str:
    """``stock_allocate_statement`` for units the statement itself picks (order placement's in-stock path):
    ``source`` is SQL selecting (stock item id, units) of *locked* items."""
    return (
        f"UPDATE {StockItem._meta.db_table} s SET allocated = s.allocated + x.qty"
        f" FROM ({source}) AS x(id, qty) WHERE s.id = x.id RETURNING s.id"
    )


def stock_movements_apply_bulk(
    *, deltas: Mapping[int, int], kind: str, reason: str = "", reference: str = "", user=None
) -> int:
    """The set-based twin of ``stock_movement_apply`` (imports of stock counts): move ``on_hand`` of many *locked*
    stock items (stock item id → signed units, 0 skipped) in one statement and write one ledger row each. Returns
    the number of movements written."""
    moves = {pk: delta for pk, delta in sorted(deltas.items()) if delta}
    if not moves:
        return 0
    table = StockItem._meta.db_table
    created_by, actor = real_user(user), actor_label(user)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} s SET on_hand = s.on_hand + x.delta"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS x(id, delta) WHERE s.id = x.id",
                [list(moves), list(moves.values())],
            )
            cursor.execute(
                f"INSERT INTO {StockMovement._meta.db_table}"
                " (stock_item_id, kind, quantity, reason, reference, created_by_id, actor, created_at)"
                " SELECT x.id, %s, x.delta, %s, %s, %s, %s, now()"
                " FROM unnest(%s::bigint[], %s::integer[]) AS x(id, delta)",
                [kind, reason, reference, getattr(created_by, "pk", None), actor, list(moves), list(moves.values())],
            )
        return len(moves)
    for pk, delta in moves.items():
        StockItem.objects.filter(pk=pk).update(on_hand=F("on_hand") + delta)
    StockMovement.objects.bulk_create(
        (
            StockMovement(
                stock_item_id=pk,
                kind=kind,
                quantity=delta,
                reason=reason,
                reference=reference,
                created_by=created_by,
                actor=actor,
            )
            for pk, delta in moves.items()
        ),
        batch_size=5000,
    )
    return len(moves)
