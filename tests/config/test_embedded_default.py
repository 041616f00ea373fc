"""The embedded default, as a newcomer runs it (`make run`): SQLite, tasks run eagerly, demo data. Every page and
list the URL configuration names without a parameter answers without a server error, for staff and, under
/api/, for a sales channel's key. CI's suite runs on PostgreSQL, so this is what keeps SQLite honest there (a raw
query with PostgreSQL's `= ANY(%s)` once answered the backorder list with 503 on SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("seed_demo", "--if-empty", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLResolver, get_resolver
from orders.services import api_key_create
user = get_user_model().objects.create_superuser("smoke", "smoke@example.com", "smoke-password-123456")
staff = Client(HTTP_HOST="localhost")
staff.force_login(user)
_, raw = api_key_create(channel_code="smoke-shop")
channel = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Api-Key {raw}")

def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern)

checked, failed = 0, []
for route in walk(get_resolver().url_patterns):
    route = route.lstrip("^").rstrip("$")
    if any(c in route for c in "<(\\\\[") or route.startswith("admin") or "logout" in route:
        continue
    for name, client in (("staff", staff), ("channel", channel))[: 2 if route.startswith("api/") else 1]:
        checked += 1
        status = client.get("/" + route).status_code
        if status >= 500:
            failed.append(f"{name} GET /{route}: {status}")
print("CHECKED", checked)
print("FAILED", failed)
"""


def test_every_page_and_list_answers_on_the_embedded_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    # The default's engine with the file elsewhere (the default path is the checkout's db.sqlite3).
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("CHECKED", "FAILED")))
    assert int(lines["CHECKED"]) > 50  # the walk found the pages and lists
    assert lines["FAILED"] == "[]", lines["FAILED"]
