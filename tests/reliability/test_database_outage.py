"""A database outage is a 503 with Retry-After, not a bug; the health endpoint says which dependency is down.

The outage is real: the app's connection is pointed at a port where no PostgreSQL listens (what every request sees
while the server restarts: connection refused); nothing is mocked.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection

from orders.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

PROBLEM = "application/problem+json"
ORDER = {
    "customer": {"external_id": "c-1", "email": "a@example.com", "name": "A"},
    "lines": [{"sku": "A-1", "quantity": 1}],
}


@contextmanager
def database_down():
    """Requests inside the block find no database (connection refused), as during a restart."""
    original = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original


def test_an_order_during_an_outage_gets_503_and_nothing_is_written(make_product, channel_client):
    make_product(sku="A-1", stock=5)
    with database_down():
        response = channel_client.post("/api/v1/orders/", ORDER, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert response["Retry-After"] == "5"
    body = response.json()
    assert (body["code"], body["status"]) == ("service_unavailable", 503)
    assert Order.objects.count() == 0  # nothing half-written
    # And once the database is back, the same request goes through.
    assert channel_client.post("/api/v1/orders/", ORDER, format="json").status_code == 201


def test_a_dashboard_page_during_an_outage_is_503_with_retry_after(client, staff_user):
    client.force_login(staff_user)
    with database_down():
        response = client.get("/backorders/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_health_reports_database_and_broker_separately(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] in ("ok", "not_configured")
    with database_down():
        response = client.get("/health/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["database"]["status"] == "unavailable"


def test_health_reports_a_broker_outage_as_degraded_not_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there: the broker is down
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]["status"], body["broker"]["status"]) == ("degraded", "ok", "unavailable")
