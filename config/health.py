"""GET /health/: is this instance able to serve? The database and the broker, reported separately.

200 when the database answers (orders can be taken: with the broker down they wait in the outbox and the work
requests table, and are sent when it is back); 503 when the database does not. No authentication: it reveals only
"ok"/"unavailable" per dependency, for load balancers and container health checks.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 — any failure means "unavailable"; the kind is reported, not raised
        return {"status": "unavailable", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}


def _broker() -> dict:
    if not settings.CELERY_BROKER_URL:
        return {"status": "not_configured", "detail": "tasks run in-process (no broker)"}
    from celery import current_app

    started = time.monotonic()
    try:
        with current_app.connection_for_write(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return {"status": "unavailable", "error": type(exc).__name__}
    return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
def health(request):
    database, broker = _database(), _broker()
    ok = database["status"] == "ok"
    body = {"status": "ok" if ok and broker["status"] != "unavailable" else ("degraded" if ok else "unavailable")}
    body.update({"database": database, "broker": broker})
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "5"
    return response
