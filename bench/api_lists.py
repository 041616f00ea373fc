"""Every API list endpoint, with every documented filter, at volume (default 200,000 backorders), on PostgreSQL.

Seeds a scratch database set-based (dashboard.demo_bulk: orders, lines, backorders with their events, products,
stock, customers, suppliers, purchase orders; plus one outbox notification per backorder, and one hot product whose
queue holds --hot waiting backorders, so queue positions are computed over a long queue too), then requests each
list with the Django test client (DEBUG off, production settings) and prints, per endpoint and filter, the server
time p50 and max over --runs requests (after a warm-up) and the number of SQL queries of one request. Staff requests
are authenticated in-process; the channel rows go through a real API key. Not a test: nothing here asserts a time
(the target is < 200 ms each; rows over it are marked).

    python bench/api_lists.py [--orders 400000] [--backorders 200000] [--runs 5] [--reuse] [--only backorders]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PG, drop_database, recreate_database  # noqa: E402

DB = "oms_bench_lists" + os.environ.get("BENCH_DB_SUFFIX", "")
BUDGET_MS = 200

# One notification per backorder (the outbox at volume), and a hot product with a long waiting queue.
EXTRA = """
INSERT INTO notifications_notification (customer_id, order_id, backorder_id, event, channel, status, dedupe_key,
    recipient, subject, body_text, body_html, payload, context, attempts, attempts_before_retry, next_attempt_at,
    last_error, sent_at, created_at)
SELECT o.customer_id, b.order_id, b.id, 'backorder_created', 'email',
       CASE WHEN b.id %% 10 = 0 THEN 'failed' ELSE 'sent' END, 'bench:' || b.id, c.email, 'Backordered', '', '',
       '{}'::jsonb, '{}'::jsonb, 1, 0, b.created_at, '', CASE WHEN b.id %% 10 = 0 THEN NULL ELSE b.created_at END,
       b.created_at
  FROM backorders_backorder b JOIN orders_order o ON o.id = b.order_id JOIN orders_customer c ON c.id = o.customer_id;
INSERT INTO inventory_product (sku, name, unit_price, status, backorderable, created_at, updated_at)
VALUES ('HOT-1', 'Hot product', 10, 'active', true, now(), now());
INSERT INTO inventory_stockitem (product_id, warehouse_id, on_hand, allocated)
SELECT p.id, w.id, 0, 0 FROM inventory_product p, inventory_warehouse w WHERE p.sku = 'HOT-1' AND w.code = 'BULK';
UPDATE backorders_backorder
   SET product_id = (SELECT id FROM inventory_product WHERE sku = 'HOT-1'), status = 'open', quantity_allocated = 0,
       quantity_cancelled = 0, eta_basis = 'none', eta = NULL, eta_purchase_order_line_id = NULL,
       allocated_at = NULL, fulfilled_at = NULL, cancelled_at = NULL
 WHERE id IN (SELECT id FROM backorders_backorder ORDER BY id DESC LIMIT %(hot)s);
UPDATE backorders_backorder
   SET sla_due_at = placed_at + interval '14 days',
       sla_breached = status IN ('open', 'partially_allocated') AND placed_at + interval '14 days' < now()
 WHERE id %% 3 = 0;
UPDATE orders_orderline l SET product_id = b.product_id, quantity_backordered = b.quantity, quantity_allocated = 0,
       quantity_shipped = l.quantity - b.quantity, quantity_cancelled = 0
  FROM backorders_backorder b WHERE b.order_line_id = l.id AND l.product_id <> b.product_id;
"""


def cases(first: dict) -> list[tuple[str, str, str]]:
    """(group, label, url): every list endpoint and each of its documented filters (values from the seeded data)."""
    b = "/api/v1/backorders/"
    rows = [
        ("backorders", "default (queue order)", b),
        ("backorders", "page 100", b + "?page=100"),
        ("backorders", "page_size=500", b + "?page_size=500"),
        ("backorders", "status=open", b + "?status=open"),
        ("backorders", "status=open&status=partially_allocated", b + "?status=open&status=partially_allocated"),
        ("backorders", "status=fulfilled", b + "?status=fulfilled"),
        ("backorders", "status=cancelled", b + "?status=cancelled"),
        ("backorders", "eta_basis=none", b + "?eta_basis=none"),
        ("backorders", "eta_basis=purchase_order", b + "?eta_basis=purchase_order"),
        ("backorders", "eta_basis=lead_time", b + "?eta_basis=lead_time"),
        ("backorders", "status=open&eta_basis=none", b + "?status=open&eta_basis=none"),
        ("backorders", "sku (hot product)", b + f"?sku={first['hot_sku']}"),
        ("backorders", "sku (ordinary product)", b + f"?sku={first['sku']}"),
        ("backorders", "customer (external id)", b + f"?customer={first['customer']}"),
        ("backorders", "customer (email)", b + f"?customer={first['email']}"),
        ("backorders", "channel", b + f"?channel={first['channel']}"),
        ("backorders", "order", b + f"?order={first['order']}"),
        ("backorders", "priority=critical", b + "?priority=critical"),
        ("backorders", "reason=quality_hold", b + "?reason=quality_hold"),
        ("backorders", "reason=quality_hold&reason=demand_spike", b + "?reason=quality_hold&reason=demand_spike"),
        ("backorders", "min_age=30", b + "?min_age=30"),
        ("backorders", "max_age=7", b + "?max_age=7"),
        ("backorders", "sla_breached=true", b + "?sla_breached=true"),
        ("backorders", "sla_due_before", b + "?sla_due_before=2030-01-01T00:00:00Z"),
        ("backorders", "has_sla=true", b + "?has_sla=true"),
        ("backorders", "ordering=eta", b + "?ordering=eta"),
        ("backorders", "ordering=-created_at", b + "?ordering=-created_at"),
        ("backorders", "ordering=priority", b + "?ordering=priority"),
        ("backorders", "ordering=placed_at", b + "?ordering=placed_at"),
        ("backorders", "ordering=sla_due_at", b + "?ordering=sla_due_at"),
        ("backorders", "status=open&ordering=-created_at", b + "?status=open&ordering=-created_at"),
        ("backorders (channel key)", "default", b),
        ("backorders (channel key)", "status=open", b + "?status=open"),
        ("backorders (channel key)", "eta_basis=none", b + "?eta_basis=none"),
    ]
    o = "/api/v1/orders/"
    rows += [
        ("orders", "default", o),
        ("orders", "page 100", o + "?page=100"),
        ("orders", "status=backordered", o + "?status=backordered"),
        ("orders", "status=partially_shipped", o + "?status=partially_shipped"),
        ("orders", "customer", o + f"?customer={first['customer']}"),
        ("orders", "customer_email", o + f"?customer_email={first['email']}"),
        ("orders", "customer_external_id", o + f"?customer_external_id={first['customer']}"),
        ("orders", "channel", o + f"?channel={first['channel']}"),
        ("orders", "priority=critical", o + "?priority=critical"),
        ("orders", "placed_after", o + "?placed_after=2020-01-01T00:00:00Z"),
        ("orders", "placed_before", o + "?placed_before=2100-01-01T00:00:00Z"),
        ("orders", "ordering=placed_at", o + "?ordering=placed_at"),
        ("orders", "ordering=-placed_at", o + "?ordering=-placed_at"),
        ("orders (channel key)", "default", o),
        ("orders (channel key)", "status=backordered", o + "?status=backordered"),
    ]
    c = "/api/v1/customers/"
    rows += [
        ("customers", "default", c),
        ("customers", "external_id", c + f"?external_id={first['customer']}"),
        ("customers", "email", c + f"?email={first['email']}"),
        ("customers (channel key)", "default", c),
    ]
    p = "/api/v1/products/"
    rows += [
        ("products", "default", p),
        ("products", "status=active", p + "?status=active"),
        ("products", "backorderable=true", p + "?backorderable=true"),
        ("products", "search", p + "?search=product+1"),
        ("products (channel key)", "default", p),
        ("warehouses", "default", "/api/v1/warehouses/"),
        ("stock", "default", "/api/v1/stock/"),
        ("stock", "sku", f"/api/v1/stock/?sku={first['sku']}"),
        ("stock", "warehouse", "/api/v1/stock/?warehouse=BULK"),
        ("stock", "ordering=-on_hand", "/api/v1/stock/?ordering=-on_hand"),
        ("suppliers", "default", "/api/v1/suppliers/"),
        ("supplier-products", "default", "/api/v1/supplier-products/"),
        ("purchase-orders", "default", "/api/v1/purchase-orders/"),
        ("shortages", "default", "/api/v1/shortages/"),
        ("shortages", "page 5", "/api/v1/shortages/?page=5"),
        ("planning", "default", "/api/v1/planning/"),
        ("planning", "reorder_now", "/api/v1/planning/?reorder_now=true"),
        ("planning", "sku", f"/api/v1/planning/?sku={first['sku']}"),
        ("planning", "window_days=365", "/api/v1/planning/?window_days=365&service_level=0.99"),
    ]
    n = "/api/v1/notifications/"
    rows += [
        ("notifications", "default", n),
        ("notifications", "page 100", n + "?page=100"),
        ("notifications", "status=failed", n + "?status=failed"),
        ("notifications", "channel=email", n + "?channel=email"),
        ("notifications", "event=backorder_created", n + "?event=backorder_created"),
        ("notifications", "order", n + f"?order={first['order']}"),
        ("notifications", "customer", n + f"?customer={first['customer']}"),
        ("notifications", "backorder", n + f"?backorder={first['backorder']}"),
        ("notifications", "ordering=attempts", n + "?ordering=attempts"),
        ("backorder notifications", "default", f"/api/v1/backorders/{first['backorder']}/notifications/"),
        ("webhooks", "default", "/api/v1/webhooks/"),
    ]
    return rows


def seed(args) -> None:
    from django.db import connection

    from dashboard.demo_bulk import bulk_generate

    started = time.perf_counter()
    bulk_generate(orders=args.orders, backorders=args.backorders, stdout=sys.stdout)
    with connection.cursor() as cursor:
        cursor.execute(EXTRA, {"hot": args.hot})
        cursor.execute("VACUUM (ANALYZE)")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def sample_values() -> dict:
    from backorders.models import Backorder
    from inventory.models import Product

    hot = Product.objects.get(sku="HOT-1")
    bo = (
        Backorder.objects.filter(status="open")
        .exclude(product=hot)
        .select_related("order__customer", "order__channel", "product")
        .order_by("id")
        .first()
    )
    return {
        "hot_sku": hot.sku,
        "sku": bo.product.sku,
        "customer": bo.order.customer.external_id,
        "email": bo.order.customer.email.upper(),
        "channel": bo.order.channel.code,
        "order": bo.order.number,
        "backorder": bo.pk,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=400_000)
    parser.add_argument("--backorders", type=int, default=200_000)
    parser.add_argument("--hot", type=int, default=20_000, help="waiting backorders moved onto one hot product")
    parser.add_argument("--runs", type=int, default=5, help="measured requests per row (after one warm-up)")
    parser.add_argument("--timeout", type=float, default=30, help="statement timeout (s): a slower row says so")
    parser.add_argument("--only", default="", help="only the groups whose name starts with this")
    parser.add_argument("--reuse", action="store_true", help="measure again on the database seeded last time")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (for --reuse)")
    args = parser.parse_args()

    url = f"{PG}/{DB}"
    if not args.reuse:
        recreate_database(DB)
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["DEBUG"] = "false"
    # Every connection the requests open gets the timeout (libpq reads PGOPTIONS).
    os.environ["PGOPTIONS"] = f"-c statement_timeout={int(args.timeout * 1000)}"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from backorders.models import Backorder
    from orders.models import SalesChannel
    from orders.services import api_key_create

    call_command("migrate", verbosity=0)
    if not args.reuse:
        seed(args)
    # What the hourly task keeps current in production: planning's daily demand rollup (incremental on --reuse).
    from suppliers.services.demand import demand_rollup_refresh

    started = time.perf_counter()
    demand_rollup_refresh()
    print(f"demand rollup refreshed in {time.perf_counter() - started:.1f} s")
    # The seeding session's state slowed some plans 3-5x (ordering=priority 280-414 ms p50 on it, 59 ms on a new
    # session): the requests get a new session, as a web worker's would be. And the ~1 GB the seeding wrote is flushed
    # now (CHECKPOINT, a superuser's right: skipped without it), not by a checkpoint in the middle of the requests.
    from django.db import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass
    connection.close()
    print(
        f"data: {Backorder.objects.count():,} backorders "
        f"({Backorder.objects.filter(status__in=Backorder.WAITING).count():,} waiting)"
    )
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    staff = APIClient()
    staff.force_authenticate(user)
    first = sample_values()
    channel = SalesChannel.objects.get(code=first["channel"])
    _, raw = api_key_create(channel_code=channel.code)
    shop = APIClient()
    shop.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    from django.db.utils import OperationalError

    # As config.wsgi does in every server process at start: what is loaded by now is frozen out of the garbage
    # collector's generations. Without it this process (seeded, the test client's machinery) spent 90-160 ms in a full
    # collection every ~20 requests: single samples at 200-300 ms in lists whose other samples were ~70 ms.
    gc.freeze()
    results = []
    for group, label, path in cases(first):
        if args.only and not group.startswith(args.only):
            continue
        client = shop if "channel key" in group else staff
        try:
            response = client.get(path)  # warm-up
            if response.status_code == 503:  # the middleware's answer to a database error (here: the timeout)
                raise OperationalError
        except OperationalError:
            print(f"  {group:<26} {label:<40} cancelled after {args.timeout:.0f} s (statement timeout)   OVER")
            results.append((group, label, args.timeout * 1000, args.timeout * 1000, 0, None))
            continue
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
        with CaptureQueriesContext(connection) as ctx:
            client.get(path)
        count = response.json().get("count")
        results.append((group, label, statistics.median(samples), max(samples), len(ctx.captured_queries), count))
        p50, worst = results[-1][2], results[-1][3]
        print(
            f"  {group:<26} {label:<40} p50 {p50:8.1f} ms  max {worst:8.1f} ms  {len(ctx.captured_queries):>2} queries"
            f"  count {count if count is not None else '-':>7}{'   OVER' if worst >= BUDGET_MS else ''}",
            flush=True,
        )
    over = [row for row in results if row[3] >= BUDGET_MS]
    print(
        f"\n{len(results)} requests measured ({args.runs} runs each); {len(over)} with a max at or over {BUDGET_MS} ms;"
        f" slowest p50 {max(row[2] for row in results):.1f} ms; most queries {max(row[4] for row in results)}"
    )
    if not args.keep:
        connection.close()
        drop_database(DB)


if __name__ == "__main__":
    main()
