"""Allocation engine over 100,000 open backorders of one product, on PostgreSQL.

Side by side in the same run, on the same data (each measurement runs in a transaction that is rolled back,
after a VACUUM, with the deferred foreign-key checks forced inside the timing):
- baseline: ONE hand-written SQL UPDATE that allocates the free units to the queue (running SUM window) —
  it only updates the backorders, nothing else;
- the engine (backorders.allocation.backorders_allocate): locks, ranks, and updates backorders, order lines,
  allocations, stock items, order statuses and writes one event per backorder and the notification batch row;
- the floor: the engine's own statement without the order-line counters and the order-status step, i.e. the
  writes every allocation needs whatever the model (backorder, allocation row, history event, stock counter)
  with their foreign-key checks;
- both for the two plans the engine has (backorders/routing.py), each against its own floor: the free units all in
  ONE warehouse (moved there inside the rolled-back transaction, outside the timing): the running-sum statement;
  and the bench's two warehouses: the routed plan, whose floor is the same plan (the queue read in queue order and
  routed in Python, as the engine does) applied by the routed statement without the line counters and statuses;
- the "ready" notifications of that run, which a task writes right after the engine commits.
Prints the figures and the ratios to the baseline (target ≤ 3). ETA figures: bench/eta.py.
- FEFO (docs/lots.md): the same queue (100,000 backorders, same priorities, same free units) of a lot-tracked
  product whose stock is in 20 lots with different expiry dates over the two warehouses, allocated by the same
  engine (lot-by-lot free units, lot allocations and lot counters in the same statement); its time against the
  untracked engine's, measured in the same run (target ≤ 1.5).
Not a test: nothing here asserts a time.

    python bench/allocation.py [--backorders 100000] [--allocate 75000]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import drop_database, rolled_back, scratch_django  # noqa: E402

DB = "oms_bench_alloc" + os.environ.get("BENCH_DB_SUFFIX", "")

SEED = """
INSERT INTO inventory_product (sku, name, unit_price, status, backorderable, created_at, updated_at)
VALUES ('BENCH-1', 'Bench product', 10, 'active', true, now(), now());
INSERT INTO inventory_warehouse (code, name, is_active) VALUES ('MAIN', 'Main', true), ('EAST', 'East', true);
INSERT INTO orders_customer (external_id, email, name, tier, lifetime_value, created_at)
SELECT 'c' || i, 'c' || i || '@example.com', 'Customer ' || i,
       (ARRAY['standard', 'silver', 'gold', 'platinum'])[1 + i %% 4], (i * 37) %% 20000, now()
FROM generate_series(1, 2000) i;
INSERT INTO orders_order (number, customer_id, placed_at, status, ship_policy, priority, currency, total,
                          request_fingerprint)
SELECT 'B' || i, (SELECT min(id) FROM orders_customer) + i %% 2000, now() - (%(n)s - i) * interval '1 second',
       'backordered', 'partial', (ARRAY['low', 'normal', 'normal', 'normal', 'high'])[1 + i %% 5], 'EUR', 10, ''
FROM generate_series(1, %(n)s) i;
INSERT INTO orders_orderline (order_id, product_id, quantity, unit_price, quantity_allocated, quantity_backordered,
                              quantity_shipped, quantity_cancelled)
SELECT o.id, p.id, 1 + o.id %% 3, 10, 0, 1 + o.id %% 3, 0, 0
FROM orders_order o CROSS JOIN inventory_product p;
INSERT INTO backorders_backorder (order_line_id, order_id, product_id, quantity, quantity_allocated,
    quantity_cancelled, status, reason, priority, priority_rank, priority_score, placed_at, created_at, eta_basis)
SELECT l.id, o.id, l.product_id, l.quantity, 0, 0, 'open', 'stockout', o.priority,
       CASE o.priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END,
       (o.customer_id %% 4) * 10, o.placed_at, now(), 'none'
FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id;
"""

BASELINE = """
WITH q AS (
    SELECT id, quantity - quantity_allocated - quantity_cancelled AS need,
           SUM(quantity - quantity_allocated - quantity_cancelled)
             OVER (ORDER BY priority_rank DESC, priority_score DESC, placed_at, id)
             - (quantity - quantity_allocated - quantity_cancelled) AS before_units
    FROM backorders_backorder WHERE product_id = %(product)s AND status IN ('open', 'partially_allocated')
)
UPDATE backorders_backorder b
   SET quantity_allocated = b.quantity_allocated + LEAST(q.need, %(units)s - q.before_units),
       status = CASE WHEN q.need <= %(units)s - q.before_units THEN 'allocated' ELSE 'partially_allocated' END
  FROM q WHERE b.id = q.id AND q.before_units < %(units)s
"""


# The same queue again for a lot-tracked product (its own orders, single-line like the first product's).
SEED_LOTS = """
INSERT INTO inventory_product (sku, name, unit_price, status, backorderable, tracking, min_shelf_life_days,
                               created_at, updated_at)
VALUES ('BENCH-LOT', 'Bench perishable', 10, 'active', true, 'lot', 30, now(), now());
INSERT INTO orders_order (number, customer_id, placed_at, status, ship_policy, priority, currency, total,
                          request_fingerprint)
SELECT 'L' || i, (SELECT min(id) FROM orders_customer) + i %% 2000, now() - (%(n)s - i) * interval '1 second',
       'backordered', 'partial', (ARRAY['low', 'normal', 'normal', 'normal', 'high'])[1 + i %% 5], 'EUR', 10, ''
FROM generate_series(1, %(n)s) i;
INSERT INTO orders_orderline (order_id, product_id, quantity, unit_price, quantity_allocated, quantity_backordered,
                              quantity_shipped, quantity_cancelled)
SELECT o.id, p.id, 1 + o.id %% 3, 10, 0, 1 + o.id %% 3, 0, 0
FROM orders_order o CROSS JOIN inventory_product p WHERE o.number LIKE 'L%%' AND p.sku = 'BENCH-LOT';
INSERT INTO backorders_backorder (order_line_id, order_id, product_id, quantity, quantity_allocated,
    quantity_cancelled, status, reason, priority, priority_rank, priority_score, placed_at, created_at, eta_basis)
SELECT l.id, o.id, l.product_id, l.quantity, 0, 0, 'open', 'stockout', o.priority,
       CASE o.priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END,
       (o.customer_id %% 4) * 10, o.placed_at, now(), 'none'
FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id JOIN inventory_product p ON p.id = l.product_id
WHERE p.sku = 'BENCH-LOT';
"""
LOTS = 20


def floor_sql(engine_sql: str) -> str:
    """The engine's own statement minus the order-line counters (and, being one statement, minus the order-status
    step): what every allocation must write whatever the data model — the backorder, the allocation row (which
    stock item holds the units), the history event, the stock counter — with their foreign-key checks."""
    without_lines = re.sub(r"upd_lines AS \(.*?\n\),\n", "", engine_sql, count=1, flags=re.S)
    without_lines = without_lines.replace(" + (SELECT COUNT(*) FROM upd_lines)", "")
    # and without the status of the single-line orders it completes (the order-status step, done in-statement)
    without_lines = re.sub(r"upd_single_orders AS \(.*?\n\),\n", "", without_lines, count=1, flags=re.S)
    without_lines = without_lines.replace("(SELECT COUNT(*) FROM upd_single_orders)", "0")
    assert "upd_lines" not in without_lines, "the engine's statement changed: update floor_sql"
    assert "upd_single_orders" not in without_lines, "the engine's statement changed: update floor_sql"
    return without_lines


def timed(fn, setup=None):
    """(seconds, value) of fn in a rolled-back transaction, deferred FK checks and on-commit work included."""
    return rolled_back(fn, setup=setup)[:2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backorders", type=int, default=100_000)
    parser.add_argument("--allocate", type=int, default=75_000, help="how many backorders the free stock covers")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    scratch_django(DB)
    from django.db import connection

    import backorders.allocation as engine
    from backorders.models import Backorder
    from config.celery import app
    from inventory.models import Product, StockItem, StockMovement, Warehouse
    from suppliers.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED, {"n": args.backorders})
    product = Product.objects.get(sku="BENCH-1")
    queue = list(
        Backorder.objects.filter(product=product).order_by("-priority_rank", "-priority_score", "placed_at", "id")
        .values_list("quantity", flat=True)[: args.allocate]
    )  # fmt: skip
    units = sum(queue)
    # Two warehouses (allocation takes stock items in pk order): 60 % in the first, the rest in the second.
    for code, share in (("MAIN", units * 6 // 10), ("EAST", units - units * 6 // 10)):
        item = StockItem.objects.create(product=product, warehouse=Warehouse.objects.get(code=code), on_hand=share)
        StockMovement.objects.create(stock_item=item, kind="receipt", quantity=share, reference="BENCH")
    supplier = Supplier.objects.create(code="acme", name="Acme")
    SupplierProduct.objects.create(supplier=supplier, product=product, lead_time_days=21, preferred=True)

    for n in range(40):
        po = PurchaseOrder.objects.create(
            number=f"PO-B-{n}", supplier=supplier, warehouse=Warehouse.objects.get(code="MAIN"), status="sent",
            order_date=date.today(), expected_date=date.today() + timedelta(days=3 + n),
        )  # fmt: skip
        PurchaseOrderLine.objects.create(
            purchase_order=po, product=product, quantity_ordered=1500, expected_date=po.expected_date,
            original_expected_date=po.expected_date,
        )  # fmt: skip
    # The lot-tracked twin: the same queue and the same free units, in 20 lots (60 % MAIN, 40 % EAST), each with
    # its own expiry (all good enough to ship), received through the ledger with the lot named.
    from inventory.lots import LotInput, lots_receive
    from inventory.models import Lot

    with connection.cursor() as cursor:
        cursor.execute(SEED_LOTS, {"n": args.backorders})
    lot_product = Product.objects.get(sku="BENCH-LOT")
    per_lot = [units // LOTS + (1 if i < units % LOTS else 0) for i in range(LOTS)]
    for code, numbers in (("MAIN", range(0, LOTS * 6 // 10)), ("EAST", range(LOTS * 6 // 10, LOTS))):
        item = StockItem.objects.create(product=lot_product, warehouse=Warehouse.objects.get(code=code))
        lots_receive(
            stock_item=item,
            product=lot_product,
            lots=[
                LotInput(f"LOT-{i:02d}", per_lot[i], date.today() + timedelta(days=60 + 7 * ((i * 7) % LOTS)))
                for i in numbers
            ],
            kind="receipt",
            reference="BENCH",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    demand = sum(Backorder.objects.filter(product=product).values_list("quantity", flat=True))
    print(
        f"seeded {args.backorders:,} open backorders ({demand:,} units), {units:,} units free in 2 warehouses"
        f" (the same again for a lot-tracked product, in {LOTS} lots),"
    )
    print(f"40 open PO lines of 1,500 units, in {time.perf_counter() - started:.1f} s")

    def vacuum():
        # Each measurement is rolled back; its dead rows are vacuumed away so every run starts alike.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE backorders_backorder, orders_orderline, orders_order, orders_allocation,"
                           " backorders_backorderevent, inventory_stockitem, notifications_notification,"
                           " inventory_lot, orders_lotallocation")  # fmt: skip

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(BASELINE, {"product": product.pk, "units": units})
            return cursor.rowcount

    def run_engine():
        return engine.backorders_allocate(product_id=product.pk)

    def run_fefo():
        return engine.backorders_allocate(product_id=lot_product.pk)

    def floor():
        from backorders.allocation import _tables

        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                floor_sql(engine._RUNNING_SUM_PLAN + engine._APPLY_SQL).format(**_tables()),
                {"product": product.pk, "policy": "bench", "source": "bench"},
            )
            return cursor.fetchone()[0]

    def one_warehouse():
        # The free units of EAST moved to MAIN (inside the measurement's transaction): the running-sum plan.
        main, east = (StockItem.objects.get(product=product, warehouse__code=code) for code in ("MAIN", "EAST"))
        StockItem.objects.filter(pk=main.pk).update(on_hand=main.on_hand + east.on_hand - east.allocated)
        StockItem.objects.filter(pk=east.pk).update(on_hand=east.allocated)

    def floor_routed():
        # The routed plan as the engine makes it (its stock lock, the queue read in queue order, routed in Python,
        # the arrays), applied by the routed statement without the order-line counters and order statuses.
        from backorders.allocation import _tables, routed_plan_params
        from backorders.routing import restricted_channels
        from inventory.locks import stock_items_lock_for_products
        from inventory.lots import lot_facts, lots_attach
        from inventory.routing import sellable_units

        locked = stock_items_lock_for_products([product.pk], **lot_facts())
        lots_attach(locked)
        items = [item for item in locked if sellable_units(item) > 0]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            params = {"product": product.pk, "policy": "bench", "source": "bench"}
            params.update(routed_plan_params(product_id=product.pk, items=items, allowed=restricted_channels()))
            cursor.execute(floor_sql(engine._ROUTED_PLAN + engine._APPLY_SQL).format(**_tables()), params)
            return cursor.fetchone()[0]

    def run_recorded():
        # What the allocation task runs (backorders.services.allocation_run): the engine between the run record's
        # start (the stock lock, the last event id) and its write (who got what, the first passed over): issue 18.
        from backorders.services.requests import allocation_record_start, allocation_record_write

        before = allocation_record_start(product_id=product.pk)
        units = engine.backorders_allocate(product_id=product.pk)
        allocation_record_write(product_id=product.pk, before=before, units=units)
        return units

    def ready_notifications():
        from notifications.bulk import event_batch_process
        from notifications.models import EventBatch

        engine.backorders_allocate(product_id=product.pk)
        batch = EventBatch.objects.get()
        with connection.cursor() as cursor:
            # The engine's deferred checks run now, outside this timing; the batch's own run as it writes.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        start = time.perf_counter()
        written = event_batch_process(batch_id=batch.pk)
        return time.perf_counter() - start, written

    uptime = os.getloadavg()
    times = {name: [] for name in ("baseline", "engine1", "floor1", "engine", "floor_routed")}
    for _ in range(args.repeat):  # interleaved, so load on the machine hits all alike
        vacuum()
        seconds, rows = timed(baseline)
        times["baseline"].append(seconds)
        vacuum()
        seconds, allocated1 = timed(run_engine, setup=one_warehouse)
        times["engine1"].append(seconds)
        vacuum()
        times["floor1"].append(timed(floor, setup=one_warehouse)[0])
        vacuum()
        seconds, allocated = timed(run_engine)
        times["engine"].append(seconds)
        vacuum()
        times["floor_routed"].append(timed(floor_routed)[0])
    best = {name: min(values) for name, values in times.items()}
    base, full, least = best["baseline"], best["engine"], best["floor_routed"]
    print(f"load average before the timings: {uptime[0]:.2f} {uptime[1]:.2f} {uptime[2]:.2f} (2 cores)")
    print(f"baseline: one hand-written UPDATE allocates {rows:,} backorders: {base:.3f} s (best of {args.repeat})")
    print(
        f"ONE warehouse holds the free units (the running-sum statement): engine allocates {allocated1:,} units: "
        f"{best['engine1']:.3f} s; floor (the statement without the order-line counters and order statuses): "
        f"{best['floor1']:.3f} s"
    )
    print(
        f"ratio engine ÷ floor, one warehouse: {best['engine1'] / best['floor1']:.2f} (target ≤ 1.3); "
        f"engine ÷ baseline {best['engine1'] / base:.2f}"
    )
    print(
        f"TWO warehouses (the routed plan): engine allocates {allocated:,} units to {rows:,} backorders: {full:.3f} s "
        f"(best of {args.repeat}; order lines, allocations, stock, order status, events, FK checks); floor (the same "
        f"plan, read and routed in Python, applied without the line counters and order statuses): {least:.3f} s"
    )
    print(
        f"ratio engine ÷ floor, two warehouses: {full / least:.2f} (target ≤ 1.3); engine ÷ baseline "
        f"{full / base:.2f}; routed engine ÷ one-warehouse floor {full / best['floor1']:.2f}"
    )
    untracked_times, fefo_times = [], []
    for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
        vacuum()
        untracked_times.append(timed(run_engine)[0])
        vacuum()
        seconds, fefo_units = timed(run_fefo)
        fefo_times.append(seconds)
    untracked, fefo = min(untracked_times), min(fefo_times)
    assert Lot.objects.filter(product=lot_product).count() == LOTS
    print(
        f"FEFO: the engine on a lot-tracked product ({LOTS} lots, same queue and units) allocates {fefo_units:,} "
        f"units: {fefo:.3f} s against {untracked:.3f} s untracked in the same run"
    )
    print(f"ratio FEFO ÷ untracked engine: {fefo / untracked:.2f} (target ≤ 1.5; best of {args.repeat}, interleaved)")
    vacuum()
    recorded = min(timed(run_recorded)[0] for _ in range(args.repeat))
    print(
        f"engine with the run's record (AllocationRecord): {recorded:.3f} s, ratio to the engine {recorded / full:.2f}"
    )
    vacuum()
    (ready_seconds, written) = timed(ready_notifications)[1]
    print(
        f"after commit: the 'ready' notifications of that run, {written:,} outbox rows: {ready_seconds:.3f} s, "
        f"in their own transaction (ratio to baseline {ready_seconds / base:.2f})"
    )
    app.control.purge()
    if not args.keep:
        connection.close()
        drop_database(DB)


if __name__ == "__main__":
    main()
