"""Order intake throughput: POST /api/v1/orders/ under gunicorn on PostgreSQL, against its floors, in one run.

16 concurrent clients send 2-line orders for a fixed time, in three phases on the same database:
- in stock: 20 hot SKUs with ample stock (the everyday order);
- backordering: 20 SKUs with none in stock, so every order is short (backorders, ETA, outbox rows, publishes);
- bare endpoint: bench/bare_urls.py, the same database work as an in-stock order with nothing above it (the floor
  of this stack), on the same 20 hot SKUs.
The product's server and the bare endpoint's run side by side (one idles while the other is measured); their in-stock
phases take turns for ``--rounds`` rounds, each round in the reverse order of the one before (on a shared machine
whose speed drifts from minute to minute, CPU steal, a drift then weighs on both alike instead of on whichever ran
last), and the backordering rounds come after them.
pgbench's TPS (-c 8 -T 15), the machine's yardstick, is measured before the first round and after the last. Prints,
per phase over all its rounds, orders/s, p50 and p99, the CPU each order cost the web server and PostgreSQL (Linux
/proc accounting), and the ratios orders/s ÷ pgbench TPS (their mean) and product ÷ bare (overall and per round).
Not a test: nothing here asserts a time.

    python bench/orders.py [--seconds 15] [--clients 16] [--workers 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REDIS, ROOT, drop_database, manage, percentile, pgbench_tps, recreate_database  # noqa: E402

DB = "oms_bench_orders" + os.environ.get("BENCH_DB_SUFFIX", "")
SKUS = [f"HOT-{i:02d}" for i in range(20)]
SHORT_SKUS = [f"OUT-{i:02d}" for i in range(20)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict) -> str:
    manage("migrate", "--noinput", env=env)
    code = (
        "from decimal import Decimal\n"
        "from inventory.services import product_create, warehouse_create, stock_adjust\n"
        "from orders.services import api_key_create\n"
        "warehouse_create(code='MAIN', name='Main')\n"
        f"for sku in {SKUS!r}:\n"
        "    product_create(sku=sku, name=sku, unit_price=Decimal('9.99'))\n"
        "    stock_adjust(sku=sku, warehouse_code='MAIN', quantity=1000000, reason='bench')\n"
        # Stocked once, sold out: every order for them is short (a stock item at zero, as in real life).
        f"for sku in {SHORT_SKUS!r}:\n"
        "    product_create(sku=sku, name=sku, unit_price=Decimal('9.99'))\n"
        "    stock_adjust(sku=sku, warehouse_code='MAIN', quantity=1, reason='bench')\n"
        "    stock_adjust(sku=sku, warehouse_code='MAIN', quantity=-1, reason='bench')\n"
        "print(api_key_create(channel_code='bench')[1])\n"
    )
    return manage("shell", "-c", code, env=env).strip().splitlines()[-1]


def client(args) -> tuple[list[float], int]:
    port, key, deadline, seed, threads, skus = args
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run(tid: int) -> None:
        rng = random.Random(seed * 100 + tid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        local: list[float] = []
        while time.time() < deadline:
            n += 1
            a, b = rng.sample(skus, 2)
            body = json.dumps(
                {
                    "customer": {"external_id": f"b{seed}-{tid}-{n % 50}", "email": "b@example.com", "name": "B"},
                    "lines": [{"sku": a, "quantity": rng.randint(1, 3)}, {"sku": b, "quantity": rng.randint(1, 3)}],
                    "ship_policy": "partial",
                }
            )
            start = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/api/v1/orders/",
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Api-Key {key}"},
                )
                response = conn.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - start
            if ok:
                local.append(elapsed)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(local)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors[0]


def serve(env: dict, opts, settings_module: str = "config.settings") -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(opts.workers),
            "--worker-class",
            opts.worker_class,
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
        },
        start_new_session=True,
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    return server, port


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def cpu_seconds(server_pid: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by the server's processes (its session: gunicorn's master and workers)
    and by every PostgreSQL process of this machine, from /proc (Linux); (nan, nan) elsewhere."""
    tick = os.sysconf("SC_CLK_TCK")
    app = database = 0
    try:
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    except OSError:
        return float("nan"), float("nan")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                comm, fields = stat.read().rsplit(")", 1)
        except OSError:  # ended meanwhile
            continue
        fields = fields.split()
        # utime, stime (after state, ppid, pgrp, session, …), and cutime, cstime: the CPU of its children that have
        # ended (the postmaster's backends and autovacuum workers, gunicorn's workers), which would otherwise drop out
        # of the sum when one ends during a phase.
        used = sum(int(field) for field in fields[11:15])
        if int(fields[3]) == server_pid:
            app += used
        elif comm.endswith("(postgres"):
            database += used
    return app / tick, database / tick


def warm_up(port: int, key: str, skus: list[str]) -> None:
    """Until every worker has answered a few orders (connections, prepared statements, lazy imports): at least 2 s
    and 40 orders, at most 30 s (a server still booting answers its first request after a few seconds)."""
    started = time.time()
    while True:
        latencies, _ = client((port, key, time.time() + 2, 999, 4, skus))
        if len(latencies) >= 40 or time.time() - started > 30:
            return


def phase(port: int, key: str, skus: list[str], opts, server_pid: int) -> dict:
    """One measured phase: the raw figures (``summary`` turns one or several into rates and percentiles)."""
    warm_up(port, key, skus)
    processes = 2
    per_process = max(1, opts.clients // processes)
    deadline = time.time() + opts.seconds
    cpu_before = cpu_seconds(server_pid)
    started = time.time()
    with mp.Pool(processes) as pool:
        results = pool.map(client, [(port, key, deadline, seed, per_process, skus) for seed in range(processes)])
    elapsed = time.time() - started
    cpu_after = cpu_seconds(server_pid)
    return {
        "latencies": [lat for lats, _ in results for lat in lats],
        "errors": sum(err for _, err in results),
        "elapsed": elapsed,
        "app_cpu": cpu_after[0] - cpu_before[0],
        "db_cpu": cpu_after[1] - cpu_before[1],
    }


def summary(runs: list[dict]) -> dict:
    """The rounds of one phase pooled: orders/s over their whole time, percentiles over all their requests, CPU per
    order (ms) of the web server's processes and of PostgreSQL's (every backend of the machine: measure on a quiet
    one)."""
    latencies = [lat for run in runs for lat in run["latencies"]]
    orders = max(1, len(latencies))
    return {
        "orders": len(latencies),
        "errors": sum(run["errors"] for run in runs),
        "rate": len(latencies) / sum(run["elapsed"] for run in runs),
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "app_cpu": sum(run["app_cpu"] for run in runs) * 1000 / orders,
        "db_cpu": sum(run["db_cpu"] for run in runs) * 1000 / orders,
        "rounds": [len(run["latencies"]) / run["elapsed"] for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (2 × cores + 1)")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the phases, taking turns")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument(
        "--redis-cache", action="store_true", help="count rate limits in Redis (CACHE_URL), as docker-compose does"
    )
    opts = parser.parse_args()
    opts.rounds = max(1, opts.rounds)

    url = recreate_database(DB)
    env = {"DATABASE_URL": url, "CELERY_BROKER_URL": REDIS, "DEBUG": "false", "LOG_LEVEL": "ERROR"}
    if opts.redis_cache:  # as docker-compose.yml deploys it: rate limits counted in the shared Redis cache
        env["CACHE_URL"] = REDIS
    key = prepare(env)
    tps_before = None if opts.skip_pgbench else pgbench_tps()
    in_stock = [("product, in stock", "product", SKUS)]
    if not opts.skip_bare:
        in_stock.append(("bare endpoint, in stock", "bare", SKUS))
    # The in-stock phases take turns (A B, B A, …); the backordering ones come after them all, so the vacuuming that
    # their writes (backorders, events, outbox rows) set off falls on none of the in-stock phases.
    schedule = [
        *(step for round_number in range(opts.rounds) for step in in_stock[:: 1 if round_number % 2 == 0 else -1]),
        *[("product, backordering", "product", SHORT_SKUS)] * opts.rounds,
    ]
    servers = {}
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in schedule}  # in their first turn's order
    try:
        servers["product"] = serve(env, opts)
        if not opts.skip_bare:
            servers["bare"] = serve(env, opts, "bare_settings")
        for name, target, skus in schedule:
            server, port = servers[target]
            runs[name].append(phase(port, key, skus, opts, server.pid))
    finally:
        for server, _ in servers.values():
            stop(server)
    results = {name: summary(phase_runs) for name, phase_runs in runs.items()}
    tps_after = None if opts.skip_pgbench else pgbench_tps()
    integrity = manage("check_integrity", env=env).strip()
    backorders = (
        manage("shell", "-c", "from backorders.models import Backorder; print(Backorder.objects.count())", env=env)
        .strip()
        .splitlines()[-1]
    )
    drop_database(DB)
    tps = (tps_before + tps_after) / 2 if tps_before and tps_after else None
    print(
        f"{opts.clients} clients, 2-line orders, {opts.seconds} s per phase, {opts.rounds} round(s) taking turns,"
        f" gunicorn {opts.workers} × {opts.worker_class}"
    )
    print(
        f"{'phase':<26} {'orders':>7} {'errors':>6} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'÷ pgbench':>10}"
        f" {'app CPU ms/order':>17} {'PG CPU ms/order':>16}  orders/s by round"
    )
    for name, r in results.items():
        ratio = f"{r['rate'] / tps:.3f}" if tps else "-"
        print(
            f"{name:<26} {r['orders']:>7} {r['errors']:>6} {r['rate']:>9.1f} {r['p50']:>8.1f} {r['p99']:>8.1f}"
            f" {ratio:>10} {r['app_cpu']:>17.2f} {r['db_cpu']:>16.2f}  {', '.join(f'{x:.1f}' for x in r['rounds'])}"
        )
    if tps:
        print(f"pgbench TPS (-c 8 -T 15): {tps:.0f} (before the rounds {tps_before:.0f}, after {tps_after:.0f})")
    bare = results.get("bare endpoint, in stock")
    if bare:
        product = results["product, in stock"]
        by_round = ", ".join(f"{p / b:.2f}" for p, b in zip(product["rounds"], bare["rounds"], strict=True))
        print(f"product in stock ÷ bare endpoint: {product['rate'] / bare['rate']:.2f} (by round: {by_round})")
    print(f"backorders written : {backorders}")
    print(f"integrity          : {integrity}")


if __name__ == "__main__":
    main()
