"""Bulk import at scale, on PostgreSQL: 100,000 products, then 100,000 stock counts, against a plain COPY.

Scenario: a go-live. A file of 100,000 products (CSV, as a spreadsheet exports it) is imported through
``exchange.imports.import_run`` (read, check every row, write through ``inventory.services.products_upsert``), then
imported again (every row unchanged: nothing written). Then 100,000 stock counts of those products at one warehouse
(each becomes a signed ledger adjustment through ``inventory.services.stock_counts_apply``: stock rows created,
locked in key order, counters moved set-based, one ledger row each), then counted again with a tenth of them changed.

Baseline, measured in the same run on the same rows: a plain ``COPY … FROM STDIN`` of the same CSV — into
``inventory_product`` for the products (rolled back), into a staging table of the file's columns for the counts.
Prints rows/s and the ratio import ÷ COPY. Not a test: nothing here asserts a time.

    python bench/import.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import drop_database, scratch_django  # noqa: E402

DB = "oms_bench_import"


def products_csv(rows: int) -> bytes:
    lines = ["sku,name,unit_price,status,backorderable"]
    lines += [f"BULK-{i:06d},Bulk product {i},{(i % 997) + 0.99:.2f},active,true" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def counts_csv(rows: int, *, changed_every: int = 1, offset: int = 0) -> bytes:
    lines = ["sku,warehouse,counted"]
    lines += [f"BULK-{i:06d},MAIN,{(i % 50) + (offset if i % changed_every == 0 else 0)}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def copy_products(content: bytes) -> float:
    """A plain COPY of the same rows into the products table, rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            # The timestamps have no column default (Django sets them); give them one for the COPY (rolled back).
            cursor.execute(
                "ALTER TABLE inventory_product ALTER COLUMN created_at SET DEFAULT now(),"
                " ALTER COLUMN updated_at SET DEFAULT now()"
            )
            start = time.perf_counter()
            cursor.copy_expert(
                "COPY inventory_product (sku, name, unit_price, status, backorderable) FROM STDIN WITH (FORMAT csv, "
                "HEADER true)",
                io.BytesIO(content.replace(b"BULK-", b"COPY-")),
            )
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def copy_counts(content: bytes) -> float:
    """A plain COPY of the same rows into a staging table of the file's columns."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE staging_counts (sku text, warehouse text, counted integer)")
            start = time.perf_counter()
            cursor.copy_expert("COPY staging_counts FROM STDIN WITH (FORMAT csv, HEADER true)", io.BytesIO(content))
            elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def export_at_volume(rows: int) -> tuple[float, int, float]:
    """Stream the stock-ledger export (CSV) over ``rows`` ledger rows (written for the measure, rolled back):
    seconds, bytes written, and the peak of Python memory allocated meanwhile (tracemalloc)."""
    import tracemalloc

    from django.db import connection, transaction

    from exchange.exports import EXPORT_KINDS
    from exchange.formats import csv_chunks

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH ids AS (SELECT array_agg(id) AS a"
                " FROM (SELECT id FROM inventory_stockitem ORDER BY id LIMIT 1000) x)"
                " INSERT INTO inventory_stockmovement"
                " (stock_item_id, kind, quantity, reason, reference, actor, created_at)"
                " SELECT ids.a[1 + g %% array_length(ids.a, 1)], 'adjustment', 1 + g %% 7, 'volume test', '', 'bench',"
                " now() FROM generate_series(1, %s) g, ids",
                [rows],
            )
        kind = EXPORT_KINDS["stock_ledger"]
        tracemalloc.start()
        start = time.perf_counter()
        written = sum(len(chunk) for chunk in csv_chunks(kind.header, kind.rows()))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        transaction.set_rollback(True)
    return seconds, written, peak / 1024 / 1024


def timed_import(kind: str, content: bytes):
    from exchange.imports import import_run

    start = time.perf_counter()
    result = import_run(kind=kind, content=content, file_format="csv")
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000, help="ledger rows for the export (0: skip)")
    args = parser.parse_args()
    rows = args.rows
    scratch_django(DB)
    from config.celery import app
    from inventory.services import warehouse_create

    warehouse_create(code="MAIN", name="Main")
    products = products_csv(rows)
    counts = counts_csv(rows)
    recount = counts_csv(rows, changed_every=10, offset=3)

    measured = []
    copy_p = copy_products(products)
    seconds, result = timed_import("products", products)
    measured.append(("products: new", seconds, result, copy_p))
    seconds, result = timed_import("products", products)
    measured.append(("products: again, unchanged", seconds, result, copy_p))
    copy_c = copy_counts(counts)
    seconds, result = timed_import("stock_counts", counts)
    measured.append(("stock counts: first count", seconds, result, copy_c))
    seconds, result = timed_import("stock_counts", recount)
    measured.append(("stock counts: a tenth changed", seconds, result, copy_c))
    app.control.purge()

    print(f"\nBulk import of {rows:,} rows (CSV), PostgreSQL, this machine; baseline: plain COPY of the same rows\n")
    print(f"{'what':<32} {'import s':>9} {'rows/s':>9} {'COPY s':>8} {'COPY rows/s':>12} {'ratio':>7}  outcome")
    for label, seconds, result, copy_seconds in measured:
        outcome = f"{result.status}: {result.message}"
        print(
            f"{label:<32} {seconds:>9.2f} {rows / seconds:>9,.0f} {copy_seconds:>8.2f} {rows / copy_seconds:>12,.0f}"
            f" {seconds / copy_seconds:>6.1f}×  {outcome}"
        )
    if args.export_rows:
        seconds, written, peak = export_at_volume(args.export_rows)
        print(
            f"\nExport of the stock ledger as CSV over {args.export_rows:,} rows: {seconds:.1f} s "
            f"({args.export_rows / seconds:,.0f} rows/s, {written / 1024 / 1024:,.0f} MiB written), "
            f"peak Python memory while streaming {peak:.1f} MiB (constant: rows are read 2,000 at a time)"
        )
    drop_database(DB)


if __name__ == "__main__":
    main()
