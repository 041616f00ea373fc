"""Fixtures of the notification tests: a real Celery worker, a refusing broker, a local webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def outbound_to_local_receivers(settings):
    """These tests post webhooks to a receiver on 127.0.0.1 over plain http: allowed here, explicitly
    (production refuses both; see core/outbound.py)."""
    settings.OMS_OUTBOUND_ALLOW_PRIVATE = True
    settings.OMS_OUTBOUND_ALLOW_HTTP = True


@pytest.fixture
def notify_settings(settings):
    """Change OMS notification settings for one test: notify_settings(NOTIFY_MAX_ATTEMPTS=2)."""

    def apply(**overrides):
        settings.OMS = {**django_settings.OMS, **overrides}

    return apply


@pytest.fixture
def live_worker(celery_worker_run):
    """Start a real Celery worker (in a thread of this process) on the Redis broker: ``with live_worker():``."""
    return lambda: celery_worker_run(pool="solo", shutdown_timeout=10)


class Receiver:
    """A webhook receiver on 127.0.0.1 (random port) that answers with scripted status codes."""

    def __init__(self, statuses: list[int], delay: float = 0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    code = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"status": code}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/oms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """receiver([500, 200]) starts a local HTTP server answering 500, then 200 for every later request."""
    started = []

    def start(statuses=(200,), delay: float = 0.0):
        r = Receiver(list(statuses), delay)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()
