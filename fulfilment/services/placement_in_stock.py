"""Order placement's fast path: a channel's order whose every line is in stock, placed in ONE statement.

The everyday storefront order (docs/performance.md, "Order intake"): every line can be served whole from one
warehouse the channel ships from, after the units the backorder queue is owed, and the customer is known with their
details unchanged. Then the whole placement is one statement run on its own (autocommit: its own transaction, one
round trip instead of BEGIN, lock, write, COMMIT): it locks the SKUs' stock rows in pk order (the global lock order,
as the Python path takes them), decides, and writes the order, its lines, their allocations and the stock counters —
or, when the order is anything but that, writes nothing and says so, and ``order_place`` takes the Python path, which
decides every other case (short lines, splits, lots, changed customers, staff orders, idempotency replays). When the
statement finds everything in stock for a customer the channel has never sent, a second statement decides again and
creates the customer with the order (as ``customer_upsert`` would).

The rules this statement applies are the Python path's, restated for this one case:
- free units: a stock item's ``on_hand - allocated`` (never below 0) in an active warehouse the channel may ship
  from (``inventory.routing.sellable_units`` / ``may_serve``); the queue's waiting units of the product
  (``backorders.selectors.waiting_demand_sql``) come first;
- routing (``inventory.routing.route_line``): the one warehouse that fills the line whole, best priority (lowest
  ``Warehouse.priority``, then warehouse id, then stock item id);
- lot-tracked products are never taken here (FEFO is decided in Python);
- the customer (``orders.services.customer_upsert``): created when the channel has none with this external id
  (``ON CONFLICT DO NOTHING``: one created meanwhile sends the order to the Python path), else taken as it is only
  when the e-mail and name sent are empty or the same (a change is the Python path's update).
tests/fulfilment/test_placement_in_stock.py places the same orders through both paths over generated stock,
warehouses, channel lists and queues and proves the same decision and the same rows.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from backorders.selectors import waiting_demand_sql
from core.actors import real_user
from core.sql import execute_prepared, insert_sql, row_json_sql
from inventory.counters import stock_allocate_picked_statement
from inventory.models import Product, StockItem, Warehouse
from orders.models import Allocation, Customer, Order, OrderLine, SalesChannel
from orders.selectors import customer_from_snapshot, customer_snapshot_sql
from orders.services import CustomerData

from .placement_checks import LineRequest


def in_stock_path_applies(*, channel, customer: CustomerData, user) -> bool:
    """Whether ``order_place`` may try the one-statement path (a channel's order, outside any transaction)."""
    return (
        settings.OMS.get("IN_STOCK_FAST_PATH", True)
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and channel is not None
        and real_user(user) is None
        and not customer.tier
    )


@functools.lru_cache(maxsize=64)
def _decision_sql(n_skus: int) -> str:
    """The CTEs that lock and decide (``pick``: one row per line served, ``d``: whether the whole order is)."""
    qn = connection.ops.quote_name
    item, product, warehouse = (qn(m._meta.db_table) for m in (StockItem, Product, Warehouse))
    customers = qn(Customer._meta.db_table)
    through = qn(SalesChannel.warehouses.through._meta.db_table)
    untracked = Product.Tracking.NONE
    return (
        f"locked AS (SELECT s.id, s.product_id, s.warehouse_id, s.on_hand, s.allocated, p.sku, p.unit_price,"
        f" p.tracking, w.is_active, w.priority, ({waiting_demand_sql('s.product_id')}) AS queued"
        # Joined from the list (not `sku = ANY(list)`): the generic plan then walks the indexes for a few SKUs.
        f" FROM unnest(%s::text[]) AS wanted(sku) JOIN {product} p ON p.sku = wanted.sku"
        f" JOIN {item} s ON s.product_id = p.id JOIN {warehouse} w ON w.id = s.warehouse_id"
        " ORDER BY s.id FOR NO KEY UPDATE OF s),"
        f" c AS (SELECT id, email, name, allow_split FROM {customers} WHERE channel_id = %s AND external_id = %s),"
        f" wh AS (SELECT array_agg(warehouse_id) AS ids FROM {through} WHERE saleschannel_id = %s),"
        " r AS (SELECT * FROM unnest(%s::text[], %s::integer[]) AS r(sku, qty)),"
        " m AS (SELECT x.*, GREATEST(0, x.on_hand - x.allocated) AS units, (x.is_active AND"
        " (wh.ids IS NULL OR x.warehouse_id = ANY(wh.ids))) AS may FROM locked x CROSS JOIN wh),"
        " f AS (SELECT sku, COALESCE(SUM(units) FILTER (WHERE may), 0) - MAX(queued) AS free FROM m GROUP BY sku),"
        " pick AS (SELECT DISTINCT ON (r.sku) r.sku, r.qty, m.id AS item_id, m.product_id, m.unit_price"
        " FROM r JOIN m ON m.sku = r.sku AND m.may AND m.units >= r.qty JOIN f ON f.sku = r.sku"
        f" WHERE m.tracking = '{untracked}' AND f.free >= r.qty ORDER BY r.sku, m.priority, m.warehouse_id, m.id),"
        # Every line served whole, the total within the column's limit (whoever the customer is).
        " d0 AS (SELECT (SELECT count(*) FROM pick) = %s AND t.total <= %s AS ok, t.total"
        " FROM (SELECT SUM(unit_price * qty) AS total FROM pick) AS t)"
    )


# The customer (``cu``): known with details unchanged (empty or the same e-mail and name), else none here — a changed
# customer is the Python path's update. A customer the channel has never sent is created by a second statement (``nc``,
# as ``customer_upsert`` creates one). ``d``: the whole decision.
_KNOWN_CUSTOMER = "SELECT id, allow_split FROM c WHERE (%s = '' OR c.email = %s) AND (%s = '' OR c.name = %s)"
_DECISION = "SELECT d0.ok AND EXISTS (SELECT 1 FROM cu) AS ok, d0.total FROM d0"


@functools.lru_cache(maxsize=1)
def _created_customer_sql() -> str:
    return row_json_sql(Customer, where="true", params=[], source="nc")[0]


def order_place_in_stock(
    *,
    customer: CustomerData,
    lines: list[LineRequest],
    channel: SalesChannel,
    ship_policy: str,
    priority: str,
    requested_date,
    scoped_key: str | None,
    fingerprint: str,
    external_reference: str,
    allow_split: bool,
    number: str,
    total_max: Decimal,
) -> Order | None:
    """The order placed in one statement, ready to render; None when the order is not simply in stock (nothing was
    written: the Python path decides it). Raises IntegrityError as the Python path would (an idempotency key or
    external reference already used: nothing written either)."""
    placed_at = timezone.now()
    order = Order(
        number=number,
        channel=channel,
        placed_at=placed_at,
        status=Order.Status.OPEN,
        ship_policy=ship_policy,
        allow_split=allow_split,
        priority=priority,
        requested_date=requested_date,
        currency=settings.OMS["DEFAULT_CURRENCY"],
        total=Decimal("0"),
        idempotency_key=scoped_key,
        request_fingerprint=fingerprint,
        external_reference=external_reference,
        created_by=None,
    )
    ok = "(SELECT ok FROM d)"
    order_sql, order_params = insert_sql(
        [order],
        columns={
            "customer_id": lambda _: ("(SELECT id FROM cu)", []),
            "total": lambda _: ("(SELECT total FROM d)", []),
            "allow_split": lambda o: ("(%s AND (SELECT allow_split FROM cu))", [o.allow_split]),
        },
        where=ok,
    )
    by_sku = sorted(lines, key=lambda line: line.sku)
    order_lines = [
        OrderLine(quantity=line.quantity, quantity_allocated=line.quantity, unit_price=Decimal("0")) for line in by_sku
    ]
    sku_of = {id(obj): line.sku for obj, line in zip(order_lines, by_sku, strict=True)}
    line_sql, line_params = insert_sql(
        order_lines,
        columns={
            "order_id": lambda _: ("(SELECT id FROM o)", []),
            "product_id": _from_pick("product_id", sku_of),
            "unit_price": _from_pick("unit_price", sku_of),
        },
        returning=("id", "product_id"),
        where=ok,
        order_by="product_id",  # line ids in product order, as the Python path writes them
    )
    allocations = [Allocation(quantity=line.quantity) for line in by_sku]
    sku_of = {id(obj): line.sku for objs in (order_lines, allocations) for obj, line in zip(objs, by_sku, strict=True)}
    allocation_sql, allocation_params = insert_sql(
        allocations,
        columns={
            "order_line_id": lambda a: (
                "(SELECT l.id FROM l JOIN pick p ON p.product_id = l.product_id WHERE p.sku = %s)",
                [sku_of[id(a)]],
            ),
            "stock_item_id": _from_pick("item_id", sku_of),
        },
        returning=("id", "order_line_id", "stock_item_id"),
        where=ok,
        order_by="order_line_id",
    )
    writes = (
        f" o AS ({order_sql}), l AS ({line_sql}), a AS ({allocation_sql}),"
        f" s AS ({stock_allocate_picked_statement(source=f'SELECT item_id, qty FROM pick WHERE {ok}')})"
        " SELECT (SELECT ok FROM d), (SELECT id FROM o), (SELECT total FROM d), (SELECT allow_split FROM cu),"
        " ARRAY(SELECT ARRAY[id, product_id] FROM l), ARRAY(SELECT ARRAY[id, order_line_id, stock_item_id] FROM a),"
        " ARRAY(SELECT ARRAY[sku, product_id::text, unit_price::text] FROM pick), (SELECT ok FROM d0),"
    )
    decision_params = [
        sorted(line.sku for line in lines),
        channel.pk,
        customer.external_id,
        channel.pk,
        [line.sku for line in lines],
        [line.quantity for line in lines],
        len(lines),
        total_max,
    ]
    unchanged_params = [customer.email or "", customer.email or "", customer.name or "", customer.name or ""]
    customer_sql, customer_params = customer_snapshot_sql(channel=channel, external_id=customer.external_id)
    write_params = [*order_params, *line_params, *allocation_params]
    sql = (
        f"WITH {_decision_sql(len(lines))}, cu AS ({_KNOWN_CUSTOMER}), d AS ({_DECISION}),{writes}"
        f" ({customer_sql}), (SELECT count(*) FROM s)"
    )
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, [*decision_params, *unchanged_params, *write_params, *customer_params])
        ok, order_id, total, customer_split, line_ids, allocation_ids, picked, stock_ok, customer_row, _ = (
            cursor.fetchone()
        )
        if not ok and stock_ok and customer_row is None:  # in stock for a customer the channel sends the first time
            new_sql, new_params = insert_sql(
                [Customer(channel=channel, external_id=customer.external_id, email=customer.email,
                          name=customer.name, tier=Customer.Tier.STANDARD)],
                returning=_CUSTOMER_COLUMNS,
                where="(SELECT ok FROM d0) AND NOT EXISTS (SELECT 1 FROM c)",
                on_conflict="ON CONFLICT DO NOTHING",  # created meanwhile: nothing written, the Python path decides
            )  # fmt: skip
            sql = (
                f"WITH {_decision_sql(len(lines))}, nc AS ({new_sql}), cu AS (SELECT id, allow_split FROM nc),"
                f" d AS ({_DECISION}),{writes} ({_created_customer_sql()}), (SELECT count(*) FROM s)"
            )
            execute_prepared(cursor, sql, [*decision_params, *new_params, *write_params])
            ok, order_id, total, customer_split, line_ids, allocation_ids, picked, _, customer_row, _ = (
                cursor.fetchone()
            )
    if not ok:
        return None
    order.pk, order.total = order_id, total
    order.allow_split = allow_split and customer_split
    order.customer = customer_from_snapshot(customer_row, channel=channel)
    order._state.adding, order._state.db = False, connection.alias
    products = {
        sku: Product(pk=int(product_id), sku=sku, unit_price=Decimal(price)) for sku, product_id, price in picked
    }
    line_by_product = {product_id: pk for pk, product_id in line_ids}
    for line, order_line in zip(by_sku, order_lines, strict=True):
        product = products[line.sku]
        order_line.product, order_line.order, order_line.unit_price = product, order, product.unit_price
        order_line.pk = line_by_product[product.pk]
        order_line._state.adding, order_line._state.db = False, connection.alias
    order_lines.sort(key=lambda ol: ol.product_id)
    order.placed_lines = order_lines
    order.placed_backorders = []
    order.placed_dropped = []
    order.placed_in_one_statement = True  # its answer: fulfilment.serializers.in_stock_placed_representation
    return order


_CUSTOMER_COLUMNS = tuple(f.column for f in Customer._meta.concrete_fields)


def _from_pick(column: str, sku_of: dict[int, str]):
    """A column's SQL for a row: the value the decision picked for that row's line (``sku_of``: row → its SKU)."""
    return lambda obj: (f"(SELECT {column} FROM pick WHERE sku = %s)", [sku_of[id(obj)]])
