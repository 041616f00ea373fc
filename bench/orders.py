"""Order intake throughput: POST /api/v1/orders/ under gunicorn on PostgreSQL.

16 concurrent clients send 2-line orders over 20 hot SKUs for a fixed time; prints orders/s, p50 and
p99 latency, and in the same run pgbench's TPS (-c 8 -T 15) with the ratio orders/s ÷ pgbench TPS.
Not a test: nothing here asserts a time.

    python bench/orders.py [--seconds 20] [--clients 16] [--workers 4]
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

DB = "oms_bench_orders"
SKUS = [f"HOT-{i:02d}" for i in range(20)]


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
        f"for i, sku in enumerate({SKUS!r}):\n"
        "    product_create(sku=sku, name=sku, unit_price=Decimal('9.99'))\n"
        # Most SKUs well stocked; a few run short during the run, so backorders happen too.
        "    stock_adjust(sku=sku, warehouse_code='MAIN', quantity=200000 if i % 5 else 300, reason='bench')\n"
        "print(api_key_create(channel_code='bench')[1])\n"
    )
    return manage("shell", "-c", code, env=env).strip().splitlines()[-1]


def client(args) -> tuple[list[float], int]:
    port, key, deadline, seed, threads = args
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
            a, b = rng.sample(SKUS, 2)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (2 × cores + 1)")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--skip-pgbench", action="store_true")
    opts = parser.parse_args()

    url = recreate_database(DB)
    env = {"DATABASE_URL": url, "CELERY_BROKER_URL": REDIS, "DEBUG": "false", "LOG_LEVEL": "ERROR"}
    key = prepare(env)
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
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        # Warm-up: connections, imports, caches.
        client((port, key, time.time() + 2, 999, 4))
        processes = 2
        per_process = max(1, opts.clients // processes)
        deadline = time.time() + opts.seconds
        started = time.time()
        with mp.Pool(processes) as pool:
            results = pool.map(client, [(port, key, deadline, seed, per_process) for seed in range(processes)])
        elapsed = time.time() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    latencies = [lat for lats, _ in results for lat in lats]
    errors = sum(err for _, err in results)
    rate = len(latencies) / elapsed
    integrity = manage("check_integrity", env=env).strip()
    backorders = (
        manage("shell", "-c", "from backorders.models import Backorder; print(Backorder.objects.count())", env=env)
        .strip()
        .splitlines()[-1]
    )
    drop_database(DB)
    print(f"orders placed      : {len(latencies)} in {elapsed:.1f} s ({errors} errors), {backorders} backorders")
    print(f"orders/s           : {rate:.1f}")
    print(f"latency p50 / p99  : {percentile(latencies, 50) * 1000:.1f} ms / {percentile(latencies, 99) * 1000:.1f} ms")
    print(f"integrity          : {integrity}")
    if not opts.skip_pgbench:
        tps = pgbench_tps()
        print(f"pgbench TPS (-c 8 -T 15): {tps:.0f}")
        print(f"ratio orders/s ÷ pgbench TPS: {rate / tps:.3f}")


if __name__ == "__main__":
    main()
