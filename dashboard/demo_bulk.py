"""A large synthetic data set for benchmarks: ``bulk_generate(orders=1_000_000, backorders=200_000, stdout=...)``.

PostgreSQL only: every table is filled with set-based ``INSERT … SELECT … FROM generate_series`` in chunks
(a progress bar counts the chunks), with explicit ids so no row needs a join to find its parent. The rows
respect the same rules as the services (and pass ``check_integrity``):

- each backorder belongs to an order line with matching quantities: a waiting backorder's units are the
  line's ``quantity_backordered``; fulfilled ones were allocated then shipped; cancelled ones are the line's
  ``quantity_cancelled``; the rest of every line has shipped;
- stock items hold what their ledger says (one receipt movement each) and nothing is allocated, so there
  are no allocation rows to reconcile;
- every backorder has its "created" event (and its "fulfilled" / "cancelled" event when closed).

Shape: orders spread evenly over the last 365 days, 1–2 lines each; every (orders ÷ backorders)-th order
has its first line backordered. Backorders from the last 45 days are mostly still waiting (60 %), older
ones mostly fulfilled; 10 % of old ones still wait (the >30-day aging bucket).
"""

from __future__ import annotations

import secrets
import time

from django.db import connection, transaction
from django.utils import timezone

CHUNK = 50_000


class BulkGenerationError(Exception):
    pass


def _max_id(cursor, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608  (table names are ours)
    return cursor.fetchone()[0]


def _reset_sequences(cursor, tables: list[str]) -> None:
    for table in tables:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"  # noqa: S608
        )


def bulk_generate(*, orders: int, backorders: int, stdout, products: int | None = None, customers: int | None = None):
    """Insert ``orders`` orders of which ``backorders`` have a backordered line. Returns a summary dict."""
    from tqdm import tqdm

    if connection.vendor != "postgresql":
        raise BulkGenerationError("Bulk generation needs PostgreSQL (set DATABASE_URL=postgres://…).")
    if orders <= 0 or backorders < 0 or backorders > orders:
        raise BulkGenerationError("Need orders > 0 and 0 ≤ backorders ≤ orders.")
    started = time.monotonic()
    n_products = products or max(50, min(2000, orders // 500))
    n_customers = customers or max(100, orders // 50)
    step = max(1, orders // backorders) if backorders else orders + 1
    run = secrets.token_hex(2).upper()
    now = timezone.now()
    params = {"run": run, "now": now, "P": n_products, "C": n_customers, "N": orders, "step": step}

    with connection.cursor() as cursor:
        ids = {
            t: _max_id(cursor, t)
            for t in (
                "inventory_product", "orders_customer", "orders_order", "orders_orderline", "backorders_backorder",
                "suppliers_purchaseorder", "suppliers_purchaseorderline",
            )
        }  # fmt: skip
        params.update(
            pb=ids["inventory_product"], cb=ids["orders_customer"], ob=ids["orders_order"],
            lb=ids["orders_orderline"], bb=ids["backorders_backorder"], pob=ids["suppliers_purchaseorder"],
            polb=ids["suppliers_purchaseorderline"],
        )  # fmt: skip
        with transaction.atomic():
            _reference_data(cursor, params)
        chunks = range(1, orders + 1, CHUNK)
        for start in tqdm(chunks, desc="orders", unit="chunk", file=stdout, mininterval=1.0):
            with transaction.atomic():
                _orders_chunk(cursor, {**params, "a": start, "b": min(start + CHUNK - 1, orders)})
        _reset_sequences(
            cursor,
            [
                "inventory_product", "orders_customer", "orders_order", "orders_orderline", "backorders_backorder",
                "suppliers_purchaseorder", "suppliers_purchaseorderline",
            ],
        )  # fmt: skip
        # VACUUM sets the visibility map, so the covering indexes can answer index-only (it cannot run inside
        # a transaction, e.g. in a test: then statistics only).
        cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
    summary = {
        "orders": orders,
        "backorders": orders // step if backorders else 0,
        "products": n_products,
        "customers": n_customers,
        "seconds": round(time.monotonic() - started, 1),
        "run": run,
    }
    stdout.write(
        f"Generated {summary['orders']:,} orders, {summary['backorders']:,} backorders, {n_products:,} products, "
        f"{n_customers:,} customers in {summary['seconds']} s (run {run}).\n"
    )
    return summary


# Product k (0-based) costs 5 + (37k mod 496) euros; customer j has tier by j mod 10.
PRICE = "(5 + ((({k}) * 37) %% 496))::numeric(12,2)"


def _reference_data(cursor, p: dict) -> None:
    """Products, stock with its ledger, customers, a channel, suppliers and one open PO per product."""
    cursor.execute(
        """
        INSERT INTO inventory_warehouse (code, name, is_active) VALUES ('BULK', 'Bulk demo warehouse', true)
        ON CONFLICT (code) DO NOTHING;
        INSERT INTO orders_saleschannel (code, name, kind, is_active, max_priority, created_at)
        VALUES ('bulk-shop', 'Bulk demo shop', 'storefront', true, 'normal', %(now)s)
        ON CONFLICT (code) DO NOTHING;
        """,
        p,
    )
    cursor.execute("SELECT id FROM inventory_warehouse WHERE code = 'BULK'")
    p["wh"] = cursor.fetchone()[0]
    cursor.execute("SELECT id FROM orders_saleschannel WHERE code = 'bulk-shop'")
    p["ch"] = cursor.fetchone()[0]
    cursor.execute(
        f"""
        INSERT INTO inventory_product (id, sku, name, unit_price, status, backorderable, created_at, updated_at)
        SELECT %(pb)s + k + 1, 'BK' || %(run)s || '-' || lpad(k::text, 5, '0'), 'Bulk product ' || k,
               {PRICE.format(k="k")}, 'active', true, %(now)s, %(now)s
        FROM generate_series(0, %(P)s - 1) k;

        INSERT INTO inventory_stockitem (product_id, warehouse_id, on_hand, allocated)
        SELECT %(pb)s + k + 1, %(wh)s, (k * 13) %% 50, 0 FROM generate_series(0, %(P)s - 1) k;

        INSERT INTO inventory_stockmovement (stock_item_id, kind, quantity, reason, reference, actor, created_at)
        SELECT s.id, 'receipt', s.on_hand, 'bulk demo opening stock', 'BK' || %(run)s, 'system', %(now)s
        FROM inventory_stockitem s WHERE s.product_id > %(pb)s AND s.warehouse_id = %(wh)s AND s.on_hand > 0;

        INSERT INTO orders_customer (id, channel_id, external_id, email, name, tier, lifetime_value, created_at)
        SELECT %(cb)s + j + 1, %(ch)s, 'bk' || %(run)s || '-c' || j,
               'customer' || j || '.' || lower(%(run)s) || '@example.com',
               'Customer ' || j,
               CASE WHEN j %% 10 = 0 THEN 'platinum' WHEN j %% 10 < 3 THEN 'gold' WHEN j %% 10 < 6 THEN 'silver'
                    ELSE 'standard' END,
               ((j * 7919) %% 100000)::numeric(14,2), %(now)s
        FROM generate_series(0, %(C)s - 1) j;

        INSERT INTO suppliers_supplier (code, name, email, is_active, created_at)
        SELECT 'bk' || lower(%(run)s) || '-s' || s, 'Bulk supplier ' || s, '', true, %(now)s
        FROM generate_series(0, 9) s;

        INSERT INTO suppliers_supplierproduct (supplier_id, product_id, supplier_sku, lead_time_days,
                                               min_order_quantity, pack_size, unit_cost, preferred)
        SELECT sup.id, %(pb)s + k + 1, '', 7 + (k %% 4) * 7, 1, 1, {PRICE.format(k="k")} * 0.6, true
        FROM generate_series(0, %(P)s - 1) k
        JOIN suppliers_supplier sup ON sup.code = 'bk' || lower(%(run)s) || '-s' || (k %% 10);

        INSERT INTO suppliers_purchaseorder (id, number, supplier_id, warehouse_id, status, order_date, expected_date,
                                             expedite, notes, sent_at, created_at)
        SELECT %(pob)s + k + 1, 'PO-BK' || %(run)s || '-' || k, sup.id, %(wh)s, 'sent',
               (%(now)s::date - 10), (%(now)s::date + 5 + k %% 20), false, '', %(now)s, %(now)s
        FROM generate_series(0, %(P)s - 1) k
        JOIN suppliers_supplier sup ON sup.code = 'bk' || lower(%(run)s) || '-s' || (k %% 10);

        INSERT INTO suppliers_purchaseorderline (id, purchase_order_id, product_id, quantity_ordered,
                                                 quantity_received, expected_date, original_expected_date)
        SELECT %(polb)s + k + 1, %(pob)s + k + 1, %(pb)s + k + 1, 100, 0,
               (%(now)s::date + 5 + k %% 20), (%(now)s::date + 5 + k %% 20 - k %% 3)
        FROM generate_series(0, %(P)s - 1) k;
        """,
        p,
    )


def _orders_chunk(cursor, p: dict) -> None:
    """Orders a…b: one temporary table of per-order facts, then set-based inserts from it."""
    cursor.execute(
        f"""
        DROP TABLE IF EXISTS bulk_gen;
        CREATE TEMP TABLE bulk_gen ON COMMIT DROP AS
        SELECT i,
               %(ob)s + i AS order_id,
               %(now)s - make_interval(secs => 31536000.0 * (%(N)s - i) / %(N)s + (i %% 3600)) AS placed_at,
               (31536000.0 * (%(N)s - i) / %(N)s) / 86400 AS age_days,
               %(cb)s + 1 + (i * 31 %% %(C)s) AS customer_id,
               (i * 31 %% %(C)s)::int AS cust,
               ((i * 7919) %% %(P)s)::int AS k1,
               (((i * 7919) %% %(P)s + 1 + i %% 13) %% %(P)s)::int AS k2,
               (1 + i %% 5)::int AS q1,
               (1 + i %% 3)::int AS q2,
               i %% 2 = 0 AS has2,
               i %% %(step)s = 0 AS is_bo,
               i / %(step)s AS bo_n,
               (((i / %(step)s) * 7) %% 100)::int AS h,
               (i %% 20)::int AS r
        FROM generate_series(%(a)s::bigint, %(b)s::bigint) i;

        ALTER TABLE bulk_gen ADD COLUMN b int, ADD COLUMN state text, ADD COLUMN alloc_days float8,
                             ADD COLUMN close_days float8;
        UPDATE bulk_gen SET
            b = CASE WHEN is_bo THEN GREATEST(1, q1 - bo_n %% 2) ELSE 0 END,
            state = CASE WHEN NOT is_bo THEN NULL
                         WHEN age_days <= 45 THEN CASE WHEN h < 60 THEN 'open' WHEN h < 90 THEN 'fulfilled'
                                                       ELSE 'cancelled' END
                         ELSE CASE WHEN h < 10 THEN 'open' WHEN h < 88 THEN 'fulfilled' ELSE 'cancelled' END END,
            alloc_days = LEAST(1 + (h * 3) %% 28 + (i %% 24) / 24.0, age_days * 0.7),
            close_days = LEAST(3 + h %% 10, age_days * 0.8);

        INSERT INTO orders_order (id, number, customer_id, channel_id, placed_at, status, ship_policy, priority,
                                  currency, total, request_fingerprint)
        SELECT order_id, 'BK' || %(run)s || '-' || lpad(i::text, 7, '0'), customer_id, %(ch)s, placed_at,
               CASE WHEN state = 'open' THEN CASE WHEN q1 > b OR has2 THEN 'partially_shipped' ELSE 'backordered' END
                    WHEN state = 'cancelled' AND q1 = b AND NOT has2 THEN 'cancelled'
                    ELSE 'shipped' END,
               'partial',
               CASE WHEN r = 0 THEN 'critical' WHEN r < 3 THEN 'high' WHEN r >= 17 THEN 'low' ELSE 'normal' END,
               'EUR',
               q1 * {PRICE.format(k="k1")} + CASE WHEN has2 THEN q2 * {PRICE.format(k="k2")} ELSE 0 END,
               ''
        FROM bulk_gen;
        UPDATE orders_order o SET cancelled_at = g.placed_at + make_interval(days => 1)
        FROM bulk_gen g WHERE o.id = g.order_id AND o.status = 'cancelled';

        INSERT INTO orders_orderline (id, order_id, product_id, quantity, unit_price, quantity_allocated,
                                      quantity_backordered, quantity_shipped, quantity_cancelled)
        SELECT %(lb)s + i, order_id, %(pb)s + 1 + k1, q1, {PRICE.format(k="k1")}, 0,
               CASE WHEN state = 'open' THEN b ELSE 0 END,
               q1 - CASE WHEN state IN ('open', 'cancelled') THEN b ELSE 0 END,
               CASE WHEN state = 'cancelled' THEN b ELSE 0 END
        FROM bulk_gen
        UNION ALL
        SELECT %(lb)s + %(N)s + i, order_id, %(pb)s + 1 + k2, q2, {PRICE.format(k="k2")}, 0, 0, q2, 0
        FROM bulk_gen WHERE has2;

        INSERT INTO backorders_backorder (id, order_line_id, order_id, product_id, quantity, quantity_allocated,
            quantity_cancelled, status, reason, priority, priority_rank, priority_score, placed_at, created_at,
            allocated_at, fulfilled_at, cancelled_at, eta, eta_basis, eta_first, eta_updated_at,
            eta_purchase_order_line_id)
        SELECT %(bb)s + bo_n, %(lb)s + i, order_id, %(pb)s + 1 + k1, b,
               CASE WHEN state = 'fulfilled' THEN b ELSE 0 END,
               CASE WHEN state = 'cancelled' THEN b ELSE 0 END,
               state,
               CASE WHEN h %% 10 < 6 THEN 'stockout' WHEN h %% 10 < 8 THEN 'supplier_delay'
                    WHEN h %% 10 < 9 THEN 'demand_spike' ELSE 'quality_hold' END,
               CASE WHEN r = 0 THEN 'critical' WHEN r < 3 THEN 'high' WHEN r >= 17 THEN 'low' ELSE 'normal' END,
               CASE WHEN r = 0 THEN 3 WHEN r < 3 THEN 2 WHEN r >= 17 THEN 0 ELSE 1 END,
               (CASE WHEN cust %% 10 = 0 THEN 30 WHEN cust %% 10 < 3 THEN 20 WHEN cust %% 10 < 6 THEN 10 ELSE 0 END
                + (cust %% 90) / 10.0)::numeric(14,4),
               placed_at, placed_at,
               CASE WHEN state = 'fulfilled' THEN placed_at + make_interval(secs => alloc_days * 86400) END,
               CASE WHEN state = 'fulfilled'
                    THEN placed_at + make_interval(secs => (alloc_days + LEAST(2, age_days * 0.2)) * 86400) END,
               CASE WHEN state = 'cancelled' THEN placed_at + make_interval(secs => close_days * 86400) END,
               CASE WHEN state = 'open' AND h %% 10 >= 8 THEN NULL
                    WHEN state = 'open' AND h %% 10 < 3 THEN %(now)s::date + 5 + k1 %% 20
                    WHEN h %% 5 = 0 THEN NULL
                    ELSE (placed_at + interval '14 days')::date END,
               CASE WHEN state = 'open' AND h %% 10 >= 8 THEN 'none'
                    WHEN state = 'open' AND h %% 10 < 3 THEN 'purchase_order'
                    WHEN h %% 5 = 0 THEN 'none'
                    ELSE 'lead_time' END,
               CASE WHEN h %% 5 = 0 OR (state = 'open' AND h %% 10 >= 8) THEN NULL
                    ELSE (placed_at + interval '14 days')::date END,
               placed_at,
               CASE WHEN state = 'open' AND h %% 10 < 3 THEN %(polb)s + 1 + k1 END
        FROM bulk_gen WHERE is_bo;

        INSERT INTO backorders_backorderevent (backorder_id, kind, quantity, message, data, actor, created_at)
        SELECT %(bb)s + bo_n, 'created', b, b || ' unit(s) backordered: not enough stock when the order was placed.',
               '{{}}'::jsonb, 'system', placed_at
        FROM bulk_gen WHERE is_bo
        UNION ALL
        SELECT %(bb)s + bo_n, 'fulfilled', b, 'Shipped to the customer.', '{{}}'::jsonb, 'system',
               placed_at + make_interval(secs => (alloc_days + LEAST(2, age_days * 0.2)) * 86400)
        FROM bulk_gen WHERE state = 'fulfilled'
        UNION ALL
        SELECT %(bb)s + bo_n, 'cancelled', b, b || ' waiting unit(s) cancelled.', '{{}}'::jsonb, 'system',
               placed_at + make_interval(secs => close_days * 86400)
        FROM bulk_gen WHERE state = 'cancelled';
        """,
        p,
    )
