"""Helpers shared by the benchmarks: scratch PostgreSQL databases and Django setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def production_like_environment() -> None:
    """Benchmarks measure production settings (DEBUG off) over plain HTTP on this machine: a throwaway secret key,
    no HTTPS redirect, and API rate limits out of reach (a benchmark is one client sending as fast as it can)."""
    import secrets

    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("OMS_SSL_REDIRECT", "false")
    os.environ.setdefault("OMS_SECURE_COOKIES", "false")
    for scope in ("CHANNEL", "STAFF", "ANON", "BAD_API_KEY"):
        os.environ.setdefault(f"OMS_THROTTLE_{scope}", "100000000/min")


production_like_environment()
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")


def recreate_database(name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"{PG}/{name}"


def drop_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def django_setup(database_url: str, broker_url: str = "") -> None:
    os.environ["DATABASE_URL"] = database_url
    if broker_url:
        os.environ["CELERY_BROKER_URL"] = broker_url
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def manage(*args: str, env: dict | None = None) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def pgbench_tps(clients: int = 8, seconds: int = 15, scale: int = 10) -> float:
    """pgbench's TPS on a scratch database: the machine's own yardstick, measured in the same run."""
    name = "oms_bench_pgbench" + os.environ.get("BENCH_DB_SUFFIX", "")
    recreate_database(name)
    host_args = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    subprocess.run(["pgbench", *host_args, "-i", "-q", "-s", str(scale), name], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", *host_args, "-c", str(clients), "-j", "2", "-T", str(seconds), name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    drop_database(name)
    for line in out.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise RuntimeError(f"pgbench printed no tps:\n{out}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def scratch_django(name: str) -> str:
    """A fresh scratch database, migrated, with Django set up on it. Tasks go to a scratch Redis queue (as in
    production: published, never run here), purged now and by the caller at the end. Returns its URL."""
    url = recreate_database(name)
    manage("migrate", "--noinput", env={"DATABASE_URL": url, "CELERY_BROKER_URL": ""})
    django_setup(url, REDIS)
    from config.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    return url


class Rollback(Exception):
    pass


def rolled_back(fn, inspect=None, setup=None):
    """Run ``fn`` in a transaction that is rolled back. Returns (seconds, fn's value, inspect's value).

    The time includes what a commit would run: the deferred foreign-key checks and the on-commit callbacks
    (the publishing). ``setup`` runs first, in the transaction but outside the timing (e.g. to move stock);
    ``inspect`` runs after the timing, still inside the transaction (e.g. to count rows)."""
    import time

    from django.db import connection, transaction

    result = {}
    try:
        with transaction.atomic():
            if setup:
                setup()
            registered = len(connection.run_on_commit)
            start = time.perf_counter()
            result["value"] = fn()
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for _, callback, _ in connection.run_on_commit[registered:]:
                callback()
            result["seconds"] = time.perf_counter() - start
            result["inspected"] = inspect() if inspect else None
            raise Rollback
    except Rollback:
        pass
    return result["seconds"], result["value"], result["inspected"]
