"""Fixtures of the reliability tests: Celery workers as real processes (one per queue, as in production), on the
test database and the Redis broker, and local webhook receivers (tests.notifications.conftest.Receiver)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.notifications.conftest import Receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def outbound_to_local_receivers(settings):
    settings.OMS_OUTBOUND_ALLOW_PRIVATE = True
    settings.OMS_OUTBOUND_ALLOW_HTTP = True


@pytest.fixture
def receiver():
    """receiver([200], delay=30) starts a local HTTP server (127.0.0.1, random port; threaded, so a hanging
    answer holds only its own connection)."""
    started = []

    def start(statuses=(200,), delay: float = 0.0):
        r = Receiver(list(statuses), delay)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


def _database_url(application_name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}?application_name={application_name}"


class WorkerProcess:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"{name}@%h", *args],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task, as in an out-of-memory kill (its children with it)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: finish the task at hand, give the rest back
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_processes(transactional_db, tmp_path):
    """``start(name, "-Q", "notifications.webhook", "-c", "4", env={...})`` runs ``celery -A config worker`` as a
    separate process on the test database (connections named ``oms-test-<name>``) and the Redis broker;
    ``wait_ready()`` returns once every started worker answers a ping. Tests that use it are marked ``worker``."""
    from config.celery import app

    if not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs a Redis broker (set CELERY_BROKER_URL=redis://…)")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    app.control.purge()
    started: list[WorkerProcess] = []

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        full_env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": _database_url(f"oms-test-{name}"),
            "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            "OMS_OUTBOUND_ALLOW_PRIVATE": "1",
            "OMS_OUTBOUND_ALLOW_HTTP": "1",
            "DB_CONN_MAX_AGE": "60",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        worker = WorkerProcess(
            name,
            [*args, "--loglevel=INFO", "--without-gossip", "--without-mingle"],
            full_env,
            tmp_path / f"worker-{name}.log",
        )
        started.append(worker)
        return worker

    def wait_ready(timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        wanted = {w.name for w in started if w.process.poll() is None}
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            names = {next(iter(reply)).split("@")[0] for reply in replies}
            if wanted <= names:
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {w.name}\n{w.log.read_text()[-2000:]}" for w in started)
        pytest.fail(f"workers not ready: {wanted} (logs:\n{logs})")

    start.wait_ready = wait_ready
    start.workers = started
    yield start
    for worker in started:
        worker.stop()
    app.control.purge()
