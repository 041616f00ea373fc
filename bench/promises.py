"""Promise quality: a seeded year of daily demand and supply through the real services on PostgreSQL.

A catalogue (default 60 products; ``--products 200`` for the full catalogue takes about an hour here) is sold every
day (Poisson demand with a weekly rhythm, orders of one line placed through ``order_place``) and replenished from
5 suppliers of different reliability (lead-time noise, occasional slips, some announced with a date revision and some
not, partial deliveries) through ``purchase_order_create``,
``purchase_order_revise_dates`` and ``purchase_order_receive``. A planner reorders each evening from the preferred
supplier when the inventory position falls to the demand over the quoted lead time. The background work (allocation
and ETA recomputes) is run each evening from the durable work requests, as the worker would (``allocation_run``,
``eta_recompute_run``). The clock is the simulated day.

For every backorder it records the first date given and the day its units were all allocated, under both rules:
- today's rule: the supplier's word (the covering PO line's expected date, or today + the quoted lead time);
  the backorder's ``eta_expected``, which is exactly that rule;
- the new promise: ``eta`` (at ``ETA_SERVICE_LEVEL``, measured from the receipts and revisions so far).
and prints, side by side: the share of first dates met (allocated on or before), mean and 90th-percentile
lateness and mean earliness (days, over all backorders with a first date), and date changes per backorder (the
date differed from the evening before). Backorders still waiting at the end count only once their first date has
passed (as late, by at least the days so far). Seeded and reproducible; nothing here asserts a figure.

    python bench/promises.py [--products 60] [--days 365] [--orders-per-day 6] [--seed 7] [--level 0.9]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PG, drop_database, manage, percentile, recreate_database  # noqa: E402

DB = os.environ.get("BENCH_DB", "oms_bench_promises")
START = date(2025, 1, 6)  # a Monday

# code: quoted lead time, lead-time noise (sd, days), bias (mean days late), chance of a slip, slip size (days),
# chance a slip is announced by a date revision (some days ahead), chance of a partial first delivery.
SUPPLIERS = {
    "steady": dict(quoted=10, noise=0.7, bias=0.0, slip=0.02, slip_days=(2, 4), announced=0.8, partial=0.05),
    "decent": dict(quoted=14, noise=1.5, bias=0.5, slip=0.08, slip_days=(3, 7), announced=0.6, partial=0.10),
    "drifty": dict(quoted=7, noise=1.5, bias=2.5, slip=0.10, slip_days=(2, 5), announced=0.3, partial=0.10),
    "patchy": dict(quoted=21, noise=3.0, bias=1.0, slip=0.20, slip_days=(5, 10), announced=0.5, partial=0.25),
    "shaky": dict(quoted=30, noise=4.0, bias=3.0, slip=0.30, slip_days=(7, 14), announced=0.4, partial=0.30),
}
# What --dump records about each backorder's first dates (for finding out why a promise was missed).
DETAIL = ("eta_basis", "eta_confidence", "eta_purchase_order_line_id", "product__sku", "quantity")
LEARNING_DAYS = 91  # the first quarter, while the suppliers' history builds up (also reported without it)
WEEKLY = (1.2, 1.1, 1.0, 1.0, 1.1, 0.8, 0.8)  # Monday … Sunday


class Clock:
    """The simulated now: every ``timezone.now()`` (and so ``localdate()``) in the services reads it."""

    def __init__(self):
        self.day = START

    def now(self):
        from django.utils import timezone

        return timezone.make_aware(datetime.combine(self.day, clock(10)))


def setup(products: int, rng: random.Random):
    from inventory.models import Warehouse
    from inventory.services import product_create
    from suppliers.services import supplier_create, supplier_product_upsert

    Warehouse.objects.create(code="MAIN", name="Main")
    codes = list(SUPPLIERS)
    for code in codes:
        supplier_create(code=code, name=code.title())
    catalogue = []
    for index in range(products):
        sku = f"SIM-{index:04d}"
        product_create(sku=sku, name=f"Product {index}", unit_price=Decimal(rng.choice([9, 19, 49, 99, 249])))
        rate = rng.choice([0.1, 0.15, 0.2, 0.3, 0.45])  # share of the day's orders, before normalising
        preferred = codes[index % len(codes)]
        second = codes[(index + 2) % len(codes)]
        supplier_product_upsert(
            supplier_code=preferred, sku=sku, lead_time_days=SUPPLIERS[preferred]["quoted"], preferred=True,
            unit_cost=Decimal("5"),
        )  # fmt: skip
        supplier_product_upsert(supplier_code=second, sku=sku, lead_time_days=SUPPLIERS[second]["quoted"])
        catalogue.append({"sku": sku, "rate": rate, "supplier": preferred})
    total = sum(p["rate"] for p in catalogue)
    for p in catalogue:
        p["rate"] /= total
    return catalogue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=float, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--dump", help="write each backorder's first dates and allocation day to this JSON file")
    args = parser.parse_args()
    started = time.perf_counter()

    url = recreate_database(DB)
    # A scratch database whose durability nobody measures: commits need not wait for the WAL flush (the same
    # statements and transactions run; on this shared machine each flush cost ~2.5 ms, a tenth of the run).
    _scratch_without_flush_waits(DB)
    manage("migrate", "--noinput", env={"DATABASE_URL": url, "CELERY_BROKER_URL": ""})
    os.environ["OMS_ETA_SERVICE_LEVEL"] = str(args.level)
    from _common import django_setup

    django_setup(url, "")
    import celery.app.task
    from django.utils import timezone

    # The worker's part is played each evening from the durable work requests (below), not per message.
    celery.app.task.Task.apply_async = lambda self, *a, **k: None
    sim_clock = Clock()
    timezone.now = sim_clock.now

    rng = random.Random(args.seed)
    catalogue = setup(args.products, rng)
    try:
        results = simulate(args, rng, catalogue, sim_clock)
    finally:
        if not args.keep:
            drop_database(DB)
    report(args, results, time.perf_counter() - started)
    if args.dump:
        import json

        Path(args.dump).write_text(
            json.dumps(
                {
                    str(pk): {
                        "eta": _iso(dates[0]), "expected": _iso(dates[1]), "done": _iso(results["done"].get(pk)),
                        "changes": results["changes"].get(pk, [0, 0]),
                        "first": results["details"].get(pk),
                    }
                    for pk, dates in results["first"].items()
                }
            )
        )  # fmt: skip


def _iso(day):
    return day.isoformat() if day else None


def _scratch_without_flush_waits(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    conn.close()


def simulate(args, rng, catalogue, sim_clock):
    from django.db.models import F, Sum

    from backorders.models import Backorder, WorkRequest
    from backorders.services import allocation_run, eta_recompute_run
    from fulfilment.services import LineRequest, order_place
    from inventory.models import StockItem
    from inventory.services import stock_adjust
    from orders.services import CustomerData
    from suppliers import services as supply
    from suppliers.models import PurchaseOrder
    from suppliers.selectors import incoming_lines

    by_sku = {p["sku"]: p for p in catalogue}
    daily = args.orders_per_day
    # Opening stock: a week of demand.
    for p in catalogue:
        units = max(1, round(p["rate"] * daily * 1.6 * 7))
        stock_adjust(sku=p["sku"], warehouse_code="MAIN", quantity=units, reason="opening count")
    customers = [CustomerData(f"c{i}", f"c{i}@example.com", f"Customer {i}") for i in range(60)]
    deliveries = defaultdict(list)  # day → [(po id, sku, units)]
    revisions = defaultdict(list)  # day → [(po id, new date)]
    first = {}  # backorder id → (first promise, first expected)
    last = {}  # backorder id → (promise, expected) the evening before
    changes = defaultdict(lambda: [0, 0])  # backorder id → [promise changes, expected changes]
    done = {}  # backorder id → day all its units were allocated
    first_day = {}  # backorder id → the day of its first dates
    details = {}  # backorder id → [day of the first dates, *DETAIL then] (for --dump)

    for offset in range(args.days):
        day = START + timedelta(days=offset)
        sim_clock.day = day
        # 1. The day's deliveries (received in the morning) and announced slips.
        for po_id, new_date in revisions.pop(day, []):
            po = PurchaseOrder.objects.get(pk=po_id)
            if po.status in PurchaseOrder.INCOMING and new_date > day:
                supply.purchase_order_revise_dates(purchase_order=po, reason="supplier slip", expected_date=new_date)
        for po_id, sku, units in deliveries.pop(day, []):
            po = PurchaseOrder.objects.get(pk=po_id)
            supply.purchase_order_receive(purchase_order=po, lines=[supply.ReceiptLineRequest(sku, units)])
        # 2. Demand.
        expected_orders = daily * WEEKLY[day.weekday()]
        for _ in range(_poisson(rng, expected_orders)):
            product = rng.choices(catalogue, weights=[p["rate"] for p in catalogue])[0]
            order_place(
                customer=rng.choice(customers), lines=[LineRequest(product["sku"], rng.choice((1, 1, 1, 2, 3)))]
            )
        # 3. The planner's evening: reorder at the demand over the quoted lead time (no safety stock).
        free = dict(
            StockItem.objects.values("product__sku")
            .annotate(units=Sum(F("on_hand") - F("allocated")))
            .values_list("product__sku", "units")
        )
        incoming = dict(
            incoming_lines()
            .values("product__sku")
            .annotate(units=Sum(F("quantity_ordered") - F("quantity_received")))
            .values_list("product__sku", "units")
        )
        waiting = dict(
            Backorder.objects.filter(status__in=Backorder.WAITING)
            .values("product__sku")
            .annotate(units=Sum(F("quantity") - F("quantity_allocated") - F("quantity_cancelled")))
            .values_list("product__sku", "units")
        )
        for sku, p in by_sku.items():
            profile = SUPPLIERS[p["supplier"]]
            demand = p["rate"] * daily * 1.6  # units a day (orders of 1.6 units on average)
            position = free.get(sku, 0) + incoming.get(sku, 0) - waiting.get(sku, 0)
            point = demand * profile["quoted"]
            if position > point:
                continue
            quantity = max(1, round(point - position + demand * 14))
            expected = day + timedelta(days=profile["quoted"])
            po = supply.purchase_order_create(
                supplier_code=p["supplier"], warehouse_code="MAIN", expected_date=expected,
                lines=[supply.PurchaseOrderLineRequest(sku, quantity)], send=True,
            )  # fmt: skip
            _schedule(rng, profile, po.pk, sku, quantity, day, expected, deliveries, revisions)
        # 4. The worker: allocation first (stock that came in), then ETAs, from the durable requests.
        for product_id in WorkRequest.objects.filter(kind="allocate").values_list("product_id", flat=True):
            allocation_run(product_id=product_id, max_attempts=5)
        for product_id in WorkRequest.objects.filter(kind="eta").values_list("product_id", flat=True):
            eta_recompute_run(product_id=product_id)
        # 5. Record the evening's picture.
        for pk, status, eta, expected, *detail in Backorder.objects.filter(
            status__in=[*Backorder.WAITING, Backorder.Status.ALLOCATED], created_at__date__lte=day
        ).values_list("pk", "status", "eta", "eta_expected", *DETAIL):
            if pk in done:
                continue
            if pk not in first:
                first[pk] = (eta, expected)
                first_day[pk] = day
                details[pk] = [day.isoformat(), *(str(value) if value is not None else None for value in detail)]
            elif last[pk] != (eta, expected):
                changes[pk][0] += last[pk][0] != eta
                changes[pk][1] += last[pk][1] != expected
            last[pk] = (eta, expected)
            if status == Backorder.Status.ALLOCATED:
                done[pk] = day
        if offset % 30 == 29:
            print(f"  day {offset + 1}: {len(first)} backorders so far", flush=True)
        if offset % 91 == 90 and offset + 1 < args.days:
            # The table so far (the same figures, judged at this evening): a long run shows its trend as it goes.
            so_far = {"first": first, "done": done, "changes": changes, "end": day, "first_day": first_day}
            report(args, so_far, None, days=offset + 1)
    end = START + timedelta(days=args.days - 1)
    return {"first": first, "done": done, "changes": changes, "end": end, "first_day": first_day, "details": details}


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is fine for the small means here.
    import math

    limit, k, product = math.exp(-mean), 0, 1.0
    while True:
        product *= rng.random()
        if product <= limit:
            return k
        k += 1


def _schedule(rng, profile, po_id, sku, quantity, day, expected, deliveries, revisions):
    """When the supplier really delivers (and whether it says so in advance), drawn now, seeded."""
    actual = profile["quoted"] + profile["bias"] + rng.gauss(0, profile["noise"])
    slipped = rng.random() < profile["slip"]
    if slipped:
        actual += rng.randint(*profile["slip_days"])
    arrival = day + timedelta(days=max(1, round(actual)))
    if slipped and rng.random() < profile["announced"]:
        notice = max(1, min(5, (expected - day).days - 1))
        revisions[max(day + timedelta(days=1), expected - timedelta(days=notice))].append((po_id, arrival))
    if quantity > 1 and rng.random() < profile["partial"]:
        part = max(1, quantity * rng.randint(4, 8) // 10)
        deliveries[arrival].append((po_id, sku, part))
        deliveries[arrival + timedelta(days=rng.randint(3, 10))].append((po_id, sku, quantity - part))
    else:
        deliveries[arrival].append((po_id, sku, quantity))


def _figures(first_dates: dict, done: dict, changes: dict, which: int, end: date) -> dict:
    met = counted = 0
    late, early = [], []
    for pk, dates in first_dates.items():
        promised = dates[which]
        if promised is None:
            continue
        allocated = done.get(pk)
        if allocated is None:
            if promised >= end:
                continue  # still waiting and not yet due: not judged
            allocated = end  # still waiting, already late by at least this much
        counted += 1
        met += allocated <= promised
        late.append(max(0, (allocated - promised).days))
        early.append(max(0, (promised - allocated).days))
    return {
        "judged": counted,
        "met": met / counted if counted else float("nan"),
        "late_mean": sum(late) / len(late) if late else float("nan"),
        "late_p90": percentile(late, 90),
        "early_mean": sum(early) / len(early) if early else float("nan"),
        "changes": sum(c[which] for c in changes.values()) / len(first_dates) if first_dates else float("nan"),
        "no_date": sum(1 for dates in first_dates.values() if dates[which] is None),
    }


def report(args, results, seconds: float | None, days: int | None = None) -> None:
    first, done, changes, end = results["first"], results["done"], results["changes"], results["end"]
    print()
    print(
        f"{days or args.days} days, {args.products} products, 5 suppliers, ~{args.orders_per_day:g} orders/day, "
        f"seed {args.seed}, service level {args.level:.0%}: {len(first)} backorders ({len(done)} allocated)"
        + (f", {seconds:.0f} s" if seconds is not None else " (so far)"),
        flush=True,
    )
    _table(first, done, changes, end)
    if (days or args.days) > LEARNING_DAYS:
        # The same year, without the first quarter: what the promise does once suppliers have a history to learn
        # from (in the first weeks nothing has been delivered yet, so both rules give the supplier's word).
        since = START + timedelta(days=LEARNING_DAYS)
        later = {pk: dates for pk, dates in first.items() if results["first_day"][pk] >= since}
        print(f"\nOf them, first dated from day {LEARNING_DAYS + 1} on ({since}): {len(later)} backorders", flush=True)
        _table(later, done, {pk: c for pk, c in changes.items() if pk in later}, end)


def _table(first, done, changes, end) -> None:
    quoted = _figures(first, done, changes, 1, end)
    promise = _figures(first, done, changes, 0, end)
    print()
    print(
        "| rule | first dates met | mean lateness (d) | p90 lateness (d) | mean earliness (d) | changes / backorder |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, f in (("today's rule (quoted: PO date / lead time)", quoted), ("measured promise (eta)", promise)):
        print(
            f"| {name} | {f['met']:.1%} of {f['judged']} | {f['late_mean']:.2f} | {f['late_p90']:.0f} | "
            f"{f['early_mean']:.2f} | {f['changes']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
