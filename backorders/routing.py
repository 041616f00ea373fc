"""The allocation engine's plan where warehouse routing has something to decide (inventory.routing).

The engine's set-based statement hands a product's free stock down the queue with running sums: right while the free
stock lies in one warehouse that every waiting line may use and no waiting line refuses to be split. Otherwise the
queue is read in queue order and each backorder is routed with ``inventory.routing.route_line`` (the rule order
placement uses): its channel's warehouses, one warehouse that fills it whole when one exists, else by warehouse
priority, whole or nothing when its order may not be split. A backorder that cannot be served is passed over; the
ones behind it may still be (they may use other warehouses, or need fewer units).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from core.sql_arrays import array_literal
from inventory.lots import lots_take
from inventory.routing import route_line, sellable_units
from orders.models import Order
from orders.selectors import channel_warehouses_by_channel

from .models import Backorder
from .queue import queue_order_sql


@dataclass
class Waiting:
    id: int
    order_id: int
    order_line_id: int
    need: int
    channel_id: int | None
    allow_split: bool


@dataclass
class Grant:
    waiting: Waiting
    position: int  # 1-based place in the queue (passed-over backorders count)
    quantity: int
    picks: list[tuple]  # [(stock item, units)]
    lots: list[tuple]  # of a lot-tracked product: [(stock item, lot, units)], FEFO within each stock item


def restricted_channels() -> dict[int, frozenset[int]]:
    """Channels that list the warehouses they ship from (every other channel may use every active warehouse)."""
    return channel_warehouses_by_channel(channel_ids=None)


def fast_path_blockers_sql() -> str:
    """A condition on a waiting backorder's order ``o`` that the set-based statement cannot honour when the free stock
    lies in one warehouse: the order refuses splits, or its channel is one of %s (channels not shipping from it)."""
    return "(NOT o.allow_split OR o.channel_id = ANY(%s::bigint[]))"


def waiting_in_queue_order(product_id: int) -> list[Waiting]:
    """The product's waiting backorders (already locked by the caller) in queue order, with their routing facts."""
    backorder, order = Backorder._meta.db_table, Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.id, b.order_id, b.order_line_id, b.quantity - b.quantity_allocated - b.quantity_cancelled,"
            f" o.channel_id, o.allow_split FROM {backorder} b JOIN {order} o ON o.id = b.order_id"
            f" WHERE b.product_id = %s AND b.status IN {Backorder.WAITING_SQL}"
            f" ORDER BY {queue_order_sql('b')}",
            [product_id],
        )
        return [Waiting(*row) for row in cursor.fetchall()]


def allocation_plan(*, queue: list[Waiting], items: list, allowed: dict[int, frozenset[int]]) -> list[Grant]:
    """Who gets what, in queue order. ``items`` are the product's locked stock items; their ``allocated`` is moved
    in memory as units are planned (the caller writes them)."""
    grants = []
    live = [item for item in items if sellable_units(item) > 0]  # the items with units left; none: the plan ends
    for position, waiting in enumerate(queue, start=1):
        if not live:
            break
        picks = route_line(
            live,
            waiting.need,
            allowed=allowed.get(waiting.channel_id) if waiting.channel_id else None,
            allow_split=waiting.allow_split,
        )
        if not picks:
            continue
        lots = []
        for item, units in picks:
            if hasattr(item, "fefo_lots"):  # lot-tracked (inventory.lots): which lots is FEFO's business
                lots += [(item, lot, n) for lot, n in lots_take(item, units)]
            item.allocated += units
        if any(sellable_units(item) <= 0 for item, _ in picks):
            live = [item for item in live if sellable_units(item) > 0]
        grants.append(Grant(waiting, position, sum(units for _, units in picks), picks, lots))
    return grants


def grant_splits(grants: list[Grant]) -> list[tuple[int, int, int | None, int]]:
    """(order line id, stock item id, lot id or None, units) of every grant: the routed plan's ``split`` rows."""
    rows = []
    for grant in grants:
        line = grant.waiting.order_line_id
        if not grant.lots:  # untracked: one row per pick
            rows += [(line, item.pk, None, units) for item, units in grant.picks]
            continue
        by_lot = {id(item) for item, _, _ in grant.lots}
        rows += [(line, item.pk, lot.pk, n) for item, lot, n in grant.lots]
        rows += [(line, item.pk, None, units) for item, units in grant.picks if id(item) not in by_lot]
    return rows


def routed_plan_params(*, product_id: int, items: list, allowed: dict[int, frozenset[int]]) -> dict | None:
    """The routed plan (backorders.routing) as the parameters of ``_ROUTED_PLAN``: who gets how many (give) from
    which stock items and lots (split); None when nobody can be served. ``items`` are the locked, sellable stock
    items (their in-memory ``allocated`` moves as units are planned).

    Each array travels as one literal ('{1,2,…}'), not as psycopg2's ARRAY[1,2,…] expression: at 75,000 elements
    the seven ARRAY expressions cost ~1.8 s of parsing and planning (docs/performance.md, "Allocation")."""
    grants = allocation_plan(queue=waiting_in_queue_order(product_id), items=items, allowed=allowed)
    if not grants:
        return None
    splits = grant_splits(grants)
    return {
        "give_ids": array_literal(g.waiting.id for g in grants),
        "give_pos": array_literal(g.position for g in grants),
        "give_qty": array_literal(g.quantity for g in grants),
        "split_lines": array_literal(line for line, _, _, _ in splits),
        "split_items": array_literal(item for _, item, _, _ in splits),
        "split_lots": array_literal(lot for _, _, lot, _ in splits),
        "split_qty": array_literal(units for _, _, _, units in splits),
    }
