"""The allocation engine: hands free stock to waiting backorders in queue order.

Queue order: priority class (critical > high > normal > low), then priority score (customer tier and lifetime
value, weights from the active AllocationPolicy), then order placed time (oldest first), then id.

On PostgreSQL the engine is set-based: after locking the product's stock items (inventory.locks) and its waiting
backorders (ordered by key, in a statement without window functions, which PostgreSQL refuses together with
FOR UPDATE), ONE statement ranks the queue with a running SUM window and updates the backorders, order lines,
allocations (INSERT … ON CONFLICT), stock items, the status of the single-line orders it completed, and inserts
the events; the completed orders with other lines are then locked in key order and their status recomputed.
The customers' "ready" notifications are written right after commit from an EventBatch row committed with the
allocation (notifications.bulk), so the stock lock is held only
for the allocation itself. On SQLite (the embedded default) a Python loop does the same thing and writes the
notifications in the same transaction.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.sql_arrays import array_literal
from inventory.counters import lot_allocate_sql, stock_allocate, stock_allocate_sql
from inventory.locks import stock_items_lock_for_products
from inventory.lots import lot_facts, lots_attach
from inventory.models import Lot, StockItem, StockMovement, Warehouse
from inventory.routing import SELLABLE_SQL, sellable_units
from orders.lots import lot_allocations_add
from orders.models import Allocation, LotAllocation, Order, OrderLine
from orders.services import orders_status_refresh

from .models import Backorder, BackorderEvent
from .queue import QUEUE_ORDER, queue_order_sql
from .routing import (
    Waiting,
    allocation_plan,
    fast_path_blockers_sql,
    restricted_channels,
    routed_plan_params,
)
from .services import S, backorder_event_record, backorder_status_for, backorder_transition, policy_active
from .signals import allocation_events_recorded


def _source_reference(product_id: int) -> str:
    """What most recently brought units in (a purchase order number or an adjustment reason): for the events."""
    movement = (
        StockMovement.objects.filter(stock_item__product_id=product_id, quantity__gt=0)
        .order_by("-created_at", "-id")
        .values("kind", "reference", "reason")
        .first()
    )
    if movement is None:
        return ""
    return f"{movement['kind']} {movement['reference'] or movement['reason']}".strip()


@transaction.atomic
def backorders_allocate(*, product_id: int) -> int:
    """Offer the free stock of a product to its waiting backorders in queue order. Returns units allocated.

    Acts on the database state only, so running it twice, or in two workers at once, is harmless.
    """
    if connection.vendor == "postgresql":
        return _allocate_product_sql(product_id=product_id)
    return _allocate_product_python(product_id=product_id)


# The set-based plan, where routing has nothing to decide (backorders/routing.py): the free stock (one warehouse; of
# a lot-tracked product, its lots FEFO) handed down the queue with running sums.
_RUNNING_SUM_PLAN = """
WITH {free},
total AS (SELECT COALESCE(SUM(avail), 0) AS units FROM free),
queue AS (
    SELECT b.id, b.order_id, b.order_line_id,
           b.quantity - b.quantity_allocated - b.quantity_cancelled AS need,
           ROW_NUMBER() OVER w AS pos,
           SUM(b.quantity - b.quantity_allocated - b.quantity_cancelled) OVER w
             - (b.quantity - b.quantity_allocated - b.quantity_cancelled) AS before_units
    FROM {backorder} b
    WHERE b.product_id = %(product)s AND b.status IN {waiting}
    WINDOW w AS (ORDER BY {queue_order})
),
give AS (
    SELECT q.id, q.order_id, q.order_line_id, q.need, q.pos, q.before_units,
           LEAST(q.need, t.units - q.before_units) AS qty
    FROM queue q CROSS JOIN total t
    WHERE q.before_units < t.units
),
split AS (
    SELECT g.order_line_id, f.stock_item_id{split_lot},
           LEAST(g.before_units + g.qty, f.start_at + f.avail) - GREATEST(g.before_units, f.start_at) AS qty
    FROM give g JOIN free f
      ON f.start_at < g.before_units + g.qty AND g.before_units < f.start_at + f.avail
),
"""

# The routed plan (backorders/routing.py), made in Python: who gets how many (give) from which stock items (split).
_ROUTED_PLAN = """
WITH give AS (
    SELECT b.id, b.order_id, b.order_line_id, b.quantity - b.quantity_allocated - b.quantity_cancelled AS need,
           x.pos, x.qty
    FROM unnest(%(give_ids)s::bigint[], %(give_pos)s::bigint[], %(give_qty)s::bigint[]) AS x(id, pos, qty)
    JOIN {backorder} b ON b.id = x.id
),
split AS (
    SELECT x.order_line_id, x.stock_item_id, x.lot_id, x.qty
    FROM unnest(%(split_lines)s::bigint[], %(split_items)s::bigint[], %(split_lots)s::bigint[],
                %(split_qty)s::bigint[]) AS x(order_line_id, stock_item_id, lot_id, qty)
),
"""

# Either plan, then the writes: backorders, lines, single-line orders, allocations, stock counters, events.
_APPLY_SQL = """
upd_backorders AS (
    UPDATE {backorder} b
       SET quantity_allocated = b.quantity_allocated + g.qty,
           status = CASE WHEN g.qty = g.need THEN 'allocated' ELSE 'partially_allocated' END,
           allocated_at = CASE WHEN g.qty = g.need THEN now() ELSE b.allocated_at END
      FROM give g WHERE b.id = g.id
    RETURNING b.id
),
upd_lines AS (
    UPDATE {orderline} l
       SET quantity_allocated = l.quantity_allocated + g.qty,
           quantity_backordered = l.quantity_backordered - g.qty
      FROM give g WHERE l.id = g.order_line_id
    RETURNING l.id, l.quantity_backordered AS waiting, l.quantity_shipped AS shipped
),
completed AS (
    -- The backorders this statement completes, and whether their order has other lines (probed once, here).
    SELECT g.order_id, g.order_line_id,
           NOT EXISTS (SELECT 1 FROM {orderline} x WHERE x.order_id = g.order_id AND x.id <> g.order_line_id) AS single
    FROM give g WHERE g.qty = g.need
),
upd_single_orders AS (
    -- Orders whose one line is the one just completed leave "backordered" here (order_status_derive of that
    -- line, read as upd_lines leaves it). Every other writer of such an order (ship, cancel, substitute,
    -- reallocation) holds this product's stock lock first, so the snapshot is current and no order lock is needed;
    -- orders with other lines are locked and recomputed after this statement (_LOCK_ORDERS_SQL).
    UPDATE {order} o
       SET status = CASE WHEN u.shipped > 0 THEN 'partially_shipped' ELSE 'open' END
      FROM completed c JOIN upd_lines u ON u.id = c.order_line_id
     WHERE o.id = c.order_id AND c.single AND u.waiting = 0 AND o.status = 'backordered'
    RETURNING o.id
),
ins_allocations AS (
    INSERT INTO {allocation} AS a (order_line_id, stock_item_id, quantity, created_at)
    SELECT order_line_id, stock_item_id, qty, now() FROM {allocation_source}
    ON CONFLICT (order_line_id, stock_item_id) DO UPDATE SET quantity = a.quantity + EXCLUDED.quantity
    RETURNING a.id
),{lot_ctes}
upd_stock AS ({allocate_stock}),
ins_events AS (
    INSERT INTO {event} (backorder_id, kind, quantity, message, data, actor, created_at)
    SELECT g.id,
           CASE WHEN g.qty = g.need THEN 'allocated' ELSE 'partially_allocated' END,
           g.qty,
           g.qty || ' unit(s) allocated from stock (queue position ' || g.pos || ').',
           jsonb_build_object('queue_position', g.pos, 'policy', %(policy)s::text, 'source', %(source)s::text,
                              'outstanding_after', g.need - g.qty),
           'system', now()
    FROM give g
    RETURNING id
)
SELECT (SELECT COALESCE(SUM(qty), 0) FROM give),
       (SELECT COUNT(*) FROM upd_backorders) + (SELECT COUNT(*) FROM upd_lines)
         + (SELECT COUNT(*) FROM ins_allocations) + (SELECT COUNT(*) FROM upd_stock),
       (SELECT MIN(id) FROM ins_events), (SELECT MAX(id) FROM ins_events), (SELECT COUNT(*) FROM ins_events),
       (SELECT array_agg(DISTINCT c.order_id) FROM completed c WHERE NOT c.single),
       (SELECT COUNT(*) FROM upd_single_orders)
"""

# The running-sum statement whole (bench/allocation.py measures its floor from it).
_ALLOCATE_SQL = _RUNNING_SUM_PLAN + _APPLY_SQL

# The free units: of an untracked product, each sellable stock item's; of a lot-tracked one, the free units of each
# lot good enough to ship (active, expiring on or after today + the product's minimum shelf life, or never), in
# the same stock item order and within a stock item first-expiring first (FEFO: docs/lots.md).
_FREE_ITEMS = """free AS (
    SELECT s.id AS stock_item_id, s.on_hand - s.allocated AS avail,
           SUM(s.on_hand - s.allocated) OVER (ORDER BY s.id) - (s.on_hand - s.allocated) AS start_at
    FROM {stockitem} s JOIN {warehouse} w ON w.id = s.warehouse_id
    WHERE s.product_id = %(product)s AND s.on_hand > s.allocated AND {sellable}
)"""
_FREE_LOTS = """free AS (
    SELECT t.id AS lot_id, t.stock_item_id, t.on_hand - t.allocated AS avail,
           SUM(t.on_hand - t.allocated) OVER fefo - (t.on_hand - t.allocated) AS start_at
    FROM {lot} t JOIN {stockitem} s ON s.id = t.stock_item_id JOIN {warehouse} w ON w.id = s.warehouse_id
    WHERE t.product_id = %(product)s AND t.status = 'active' AND t.on_hand > t.allocated AND {sellable}
      AND (t.expiry_date IS NULL OR t.expiry_date >= %(min_expiry)s)
    WINDOW fefo AS (ORDER BY s.id, t.expiry_date NULLS LAST, t.id)
)"""
# A lot-tracked product's split has one row per (line, lot): the allocations add them up per stock item, the lot
# allocations and the lots' counters take them as they are.
_LOT_CTES = """
ins_lot_allocations AS (
    INSERT INTO {lotallocation} AS a (order_line_id, lot_id, quantity, created_at)
    SELECT order_line_id, lot_id, qty, now() FROM split
    ON CONFLICT (order_line_id, lot_id) DO UPDATE SET quantity = a.quantity + EXCLUDED.quantity
    RETURNING a.id
),
upd_lots AS ({allocate_lots}),"""
_LOT_ALLOCATION_SOURCE = (
    "(SELECT order_line_id, stock_item_id, SUM(qty) AS qty FROM split GROUP BY order_line_id, stock_item_id) sp"
)

# Orders whose last waiting units were just reserved leave "backordered" (orders.services.order_status_derive).
# Those with one line did so in the statement above; those with lines of other products are locked first, in
# primary-key order, like every other transaction that locks several orders, so two engines serving different products
# of the same orders can never deadlock; then one UPDATE recomputes their
# status from the lines, read after the lock (so another product's allocation committed meanwhile is seen).
# FOR NO KEY UPDATE, like every row lock here (see inventory.locks): the ALLOCATE statement above has already
# inserted events referencing these orders, and another engine's events do the same, and each such foreign-key
# check holds FOR KEY SHARE on the order until commit. FOR UPDATE would wait on those shares (two engines
# each holding one share the other needs: a deadlock, seen in CI); FOR NO KEY UPDATE does not conflict with them.
# The ids travel as one array literal joined through unnest(): a 75,000-element ``= ANY(ARRAY[…])`` cost ~0.1 s of
# planning per statement (the planner estimates the selectivity of every element).
_LOCK_ORDERS_SQL = """
SELECT o.id FROM {order} o JOIN unnest(%s::bigint[]) AS x(id) ON o.id = x.id
 WHERE o.status = 'backordered' ORDER BY o.id FOR NO KEY UPDATE OF o
"""
_ORDER_STATUS_SQL = """
UPDATE {order} o SET status = CASE WHEN x.shipped > 0 THEN 'partially_shipped' ELSE 'open' END
  FROM (SELECT l.order_id, SUM(l.quantity_shipped) AS shipped, SUM(l.quantity_backordered) AS waiting
          FROM {orderline} l JOIN unnest(%s::bigint[]) AS ids(id) ON l.order_id = ids.id GROUP BY l.order_id) x
 WHERE o.id = x.order_id AND x.waiting = 0
"""


def _tables(*, lots: bool = False) -> dict[str, str]:
    tables = {
        "lot": Lot._meta.db_table,
        "lotallocation": LotAllocation._meta.db_table,
        "allocate_lots": lot_allocate_sql("split"),
        "queue_order": queue_order_sql("b"),
        "allocate_stock": stock_allocate_sql("split"),
        "stockitem": StockItem._meta.db_table,
        "warehouse": Warehouse._meta.db_table,
        "sellable": SELLABLE_SQL,
        "backorder": Backorder._meta.db_table,
        "orderline": OrderLine._meta.db_table,
        "allocation": Allocation._meta.db_table,
        "event": BackorderEvent._meta.db_table,
        "order": Order._meta.db_table,
        "waiting": Backorder.WAITING_SQL,
    }
    tables["free"] = (_FREE_LOTS if lots else _FREE_ITEMS).format(**tables)
    tables["split_lot"] = ", f.lot_id" if lots else ""
    tables["allocation_source"] = _LOT_ALLOCATION_SOURCE if lots else "split"
    tables["lot_ctes"] = _LOT_CTES.format(**tables) if lots else ""
    return tables


def _allocate_product_sql(*, product_id: int, routed: bool = False) -> int:
    """``routed`` forces the routed plan even where the running sums would do (tests compare the two)."""
    locked_items = stock_items_lock_for_products([product_id], **lot_facts())
    tracked = lots_attach(locked_items)
    items = [item for item in locked_items if sellable_units(item) > 0]
    if not items:
        return 0
    tables = _tables(lots=tracked)
    restricted = restricted_channels()
    warehouses = {item.warehouse_id for item in items}
    # Channels that may not use every warehouse holding free stock: their backorders need the routed plan.
    blocked_channels = sorted(c for c, allowed in restricted.items() if not warehouses <= allowed)
    with connection.cursor() as cursor:
        # Lock the waiting queue in key order (no window function here: PostgreSQL refuses it with FOR UPDATE); read
        # in passing whether any waiting line needs routing decisions the running sums cannot make.
        cursor.execute(
            f"WITH locked AS (SELECT id, order_id FROM {tables['backorder']} WHERE product_id = %s"
            f" AND status IN {Backorder.WAITING_SQL} ORDER BY id FOR NO KEY UPDATE)"
            f" SELECT (SELECT COUNT(*) FROM locked), EXISTS (SELECT 1 FROM locked l JOIN {tables['order']} o"
            f" ON o.id = l.order_id WHERE {fast_path_blockers_sql()})",
            [product_id, blocked_channels],
        )
        waiting, needs_routing = cursor.fetchone()
        if not waiting:
            return 0
        # JIT compiling this one-off statement costs more than it saves (≈0.25 s measured at 75k rows).
        cursor.execute("SET LOCAL jit = off")
        params = {
            "product": product_id,
            "policy": policy_active().name,
            "source": _source_reference(product_id),
            "min_expiry": timezone.localdate() + timedelta(days=items[0].product_min_shelf_life or 0),
        }
        if len(warehouses) == 1 and not needs_routing and not routed:
            cursor.execute((_RUNNING_SUM_PLAN + _APPLY_SQL).format(**tables), params)
        else:
            plan = routed_plan_params(product_id=product_id, items=items, allowed=restricted)
            if plan is None:
                return 0
            params.update(plan)
            cursor.execute((_ROUTED_PLAN + _APPLY_SQL).format(**tables), params)
        units, _, first_event, last_event, event_count, completed_orders, _ = cursor.fetchone()
        if completed_orders:
            cursor.execute(_LOCK_ORDERS_SQL.format(**tables), [array_literal(sorted(completed_orders))])
            locked = [row[0] for row in cursor.fetchall()]
            if locked:
                cursor.execute(_ORDER_STATUS_SQL.format(**tables), [array_literal(locked)])
    if event_count:
        # The "ready" notifications of these events are written right after commit (notifications.bulk),
        # so this transaction, which holds the product's stock lock, stays short. The batch row commits with
        # the allocation: no update can be lost.
        allocation_events_recorded.send(
            sender=BackorderEvent,
            kind="ready",
            product_id=product_id,
            first_event_id=first_event,
            last_event_id=last_event,
        )
    return int(units or 0)


def _allocate_product_python(*, product_id: int) -> int:
    locked = stock_items_lock_for_products([product_id], **lot_facts())
    lots_attach(locked)
    items = [item for item in locked if sellable_units(item) > 0]
    if not items:
        return 0
    queue = list(
        Backorder.objects.select_for_update(no_key=True, of=("self",))
        .select_related("order")
        .filter(product_id=product_id, status__in=Backorder.WAITING)
        .order_by(*QUEUE_ORDER)
    )
    waiting = [
        Waiting(b.pk, b.order_id, b.order_line_id, b.quantity_outstanding, b.order.channel_id, b.order.allow_split)
        for b in queue
    ]
    grants = allocation_plan(queue=waiting, items=items, allowed=restricted_channels())
    by_id = {backorder.pk: backorder for backorder in queue}
    policy_name = policy_active().name
    source = _source_reference(product_id)
    total = 0
    touched_orders = set()
    for grant in grants:
        backorder, position, give, need = by_id[grant.waiting.id], grant.position, grant.quantity, grant.waiting.need
        total += give
        for item, q in grant.picks:
            if hasattr(item, "fefo_lots"):  # lot-tracked: the plan took FEFO lots within the stock item
                lot_allocations_add(
                    picks=[(backorder.order_line_id, lot, n) for it, lot, n in grant.lots if it is item]
                )
            stock_allocate(quantities={item.pk: q})  # the plan already moved the in-memory copies
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
            data={
                "queue_position": position,
                "policy": policy_name,
                "source": source,
                "outstanding_after": need - give,
            },
        )
        touched_orders.add(backorder.order_id)
    orders_status_refresh(order_ids=touched_orders)
    return total
