"""The only place stock rows are locked.

Every transaction that changes stock locks the stock items it needs *first*, all at once, in primary
key order, before it locks orders, order lines or backorders. Two transactions therefore never wait on
each other in a circle. No NOWAIT / SKIP LOCKED here: a stock path waits its turn rather than guess.

Row locks on stock items, orders, order lines, backorders and purchase orders are FOR NO KEY UPDATE
(``select_for_update(no_key=True)``): they exclude each other exactly like FOR UPDATE, but not the FOR KEY
SHARE that PostgreSQL takes on a row when another transaction inserts a row referencing it (a foreign-key
check). With FOR UPDATE those checks join the lock graph outside the fixed order, e.g. two allocation runs
for different products each insert an event for an order the other then wants to lock. These rows are never
deleted and their keys never change under these locks, which is all FOR UPDATE would add.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.db import connection

from core.sql import execute_prepared

from .models import Product, StockItem, Warehouse
from .routing import WAREHOUSE_FACTS, warehouse_annotations


def stock_items_lock_for_products(product_ids: Iterable[int], **annotations) -> list[StockItem]:
    """Lock every stock item of the given products (all warehouses), in pk order, each with its warehouse's routing
    facts (``warehouse_active``: see ``inventory.routing``; the warehouse row is read, not locked).

    ``annotations`` are read in the same statement (e.g. a scalar subquery), saving a round trip on hot paths.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return []
    queryset = (
        StockItem.objects.select_for_update(no_key=True, of=("self",))
        .filter(product_id__in=ids)
        .annotate(**warehouse_annotations())
    )
    if annotations:
        queryset = queryset.annotate(**annotations)
    return list(queryset.order_by("pk"))


def stock_items_lock_for_skus(
    skus: Iterable[str],
    *,
    annotations: Callable[[], dict] | None = None,
    sql_annotations: dict[str, tuple[str, list]] | None = None,
) -> list[StockItem]:
    """Lock every stock item of the products with these SKUs (all warehouses), in pk order, each with its product
    (read, not locked) — the product lookup and the lock in one round trip. A product without any stock item is not
    in the result; the caller reads those separately.

    The same rows in the same order as ``stock_items_lock_for_products`` for these products: callers may mix both.
    Extra values are read in the same statement: on PostgreSQL ``sql_annotations`` (name → (scalar SQL, params)),
    one plain statement whose text is built once (order placement's hot path: no ORM compilation per request);
    elsewhere ``annotations()`` (name → ORM expression; a function, so the hot path never builds what it skips).
    """
    wanted = sorted(set(skus))
    if not wanted:
        return []
    if connection.vendor == "postgresql" and sql_annotations is not None:
        return _lock_for_skus_sql(wanted, sql_annotations)
    queryset = (
        StockItem.objects.select_for_update(no_key=True, of=("self",))
        .select_related("product")
        .filter(product__sku__in=wanted)
        .annotate(**warehouse_annotations())
    )
    if annotations is not None:
        queryset = queryset.annotate(**annotations())
    return list(queryset.order_by("pk"))


_ITEM_FIELDS = [f.attname for f in StockItem._meta.concrete_fields]
_PRODUCT_FIELDS = [f.attname for f in Product._meta.concrete_fields]


@functools.lru_cache(maxsize=64)
def _sku_lock_statement(extras: tuple[tuple[str, str], ...]) -> str:
    qn = connection.ops.quote_name
    columns = [f"s.{qn(c.column)}" for c in StockItem._meta.concrete_fields]
    columns += [f"p.{qn(c.column)}" for c in Product._meta.concrete_fields]
    columns += [f"w.{qn(Warehouse._meta.get_field(field).column)}" for _, field in WAREHOUSE_FACTS]
    columns += [f"({sql}) AS {qn(name)}" for name, sql in extras]
    return (
        # Joined from the list (not `sku = ANY(list)`): the statement is prepared (core.sql.execute_prepared) and its
        # generic plan then walks the indexes for a few SKUs instead of hashing the whole stock table.
        f"SELECT {', '.join(columns)} FROM unnest(%s::text[]) AS wanted(sku)"
        f" JOIN {qn(Product._meta.db_table)} p ON p.sku = wanted.sku"
        f" JOIN {qn(StockItem._meta.db_table)} s ON s.product_id = p.id"
        f" JOIN {qn(Warehouse._meta.db_table)} w ON w.id = s.warehouse_id"
        " ORDER BY s.id FOR NO KEY UPDATE OF s"
    )


def _lock_for_skus_sql(skus: list[str], sql_annotations: dict[str, tuple[str, list]]) -> list[StockItem]:
    names = list(sql_annotations)
    sql = _sku_lock_statement(tuple((name, sql_annotations[name][0]) for name in names))
    params = [p for name in names for p in sql_annotations[name][1]] + [skus]
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        rows = cursor.fetchall()
    n_item, n_product, n_facts = len(_ITEM_FIELDS), len(_PRODUCT_FIELDS), len(WAREHOUSE_FACTS)
    items = []
    products: dict[int, Product] = {}
    for row in rows:
        item = StockItem.from_db(connection.alias, _ITEM_FIELDS, row[:n_item])
        product_row = row[n_item : n_item + n_product]
        product = products.get(product_row[0]) or Product.from_db(connection.alias, _PRODUCT_FIELDS, product_row)
        products[product.pk] = product
        item.product = product
        facts = row[n_item + n_product : n_item + n_product + n_facts]
        for (name, _), value in zip(WAREHOUSE_FACTS, facts, strict=True):
            setattr(item, name, value)
        for name, value in zip(names, row[n_item + n_product + n_facts :], strict=True):
            setattr(item, name, value)
        items.append(item)
    return items


def stock_items_lock(stock_item_ids: Iterable[int]) -> list[StockItem]:
    ids = sorted(set(stock_item_ids))
    if not ids:
        return []
    return list(StockItem.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk"))


def stock_items_lock_pairs(pairs: Iterable[tuple[int, int]]) -> list:
    """Lock the stock items of (product id, warehouse id) pairs, in pk order, in one statement; returns light rows
    (``id``, ``product_id``, ``warehouse_id``, ``on_hand``, ``allocated``, ``available``) instead of model instances:
    for imports of 100,000 counts at once."""
    from types import SimpleNamespace

    from django.db import connection

    pairs = sorted(set(pairs))
    if not pairs:
        return []
    if connection.vendor != "postgresql":
        wanted = set(pairs)
        products = {p for p, _ in pairs}
        return [
            item
            for item in StockItem.objects.select_for_update(no_key=True).filter(product_id__in=products).order_by("pk")
            if (item.product_id, item.warehouse_id) in wanted
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, s.product_id, s.warehouse_id, s.on_hand, s.allocated FROM {StockItem._meta.db_table} s"
            " JOIN unnest(%s::bigint[], %s::bigint[]) AS x(p, w) ON s.product_id = x.p AND s.warehouse_id = x.w"
            " ORDER BY s.id FOR NO KEY UPDATE OF s",
            [[p for p, _ in pairs], [w for _, w in pairs]],
        )
        return [
            SimpleNamespace(
                pk=pk,
                id=pk,
                product_id=p,
                warehouse_id=w,
                on_hand=on_hand,
                allocated=allocated,
                available=on_hand - allocated,
            )
            for pk, p, w, on_hand, allocated in cursor.fetchall()
        ]
