import io
from contextlib import redirect_stderr

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

MY_MODULES = ("inventory/apis.py", "fulfilment/apis.py", "backorders/apis.py")


def test_schema_has_the_api_v1_paths(staff_client):
    response = staff_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    expected = {
        "/api/v1/products/": {"get", "post"},
        "/api/v1/products/{sku}/": {"get", "patch"},
        "/api/v1/warehouses/": {"get", "post"},
        "/api/v1/stock/": {"get"},
        "/api/v1/stock/adjustments/": {"post"},
        "/api/v1/orders/": {"get", "post"},
        "/api/v1/orders/{number}/": {"get"},
        "/api/v1/orders/{number}/ship/": {"post"},
        "/api/v1/orders/{number}/cancel/": {"post"},
        "/api/v1/backorders/": {"get"},
        "/api/v1/backorders/{backorder_id}/": {"get"},
        "/api/v1/planning/": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    planning = {p["name"] for p in paths["/api/v1/planning/"]["get"]["parameters"]}
    assert {"service_level", "window_days", "sku", "reorder_now"} <= planning
    place = paths["/api/v1/orders/"]["post"]
    assert place["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderCreateInputRequest")
    assert {"200", "201"} <= set(place["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in place["parameters"])
    backorder_filters = {p["name"] for p in paths["/api/v1/backorders/"]["get"]["parameters"]}
    assert {"status", "sku", "customer", "channel", "priority", "min_age", "max_age", "eta_basis", "ordering"} <= (
        backorder_filters
    )
    backorder = schema["components"]["schemas"]["BackorderOutput"]["properties"]
    assert {"queue_position", "quantity_outstanding", "eta", "eta_basis", "customer"} <= set(backorder)
    assert "ApiKeyAuth" in schema["components"]["securitySchemes"]


def test_schema_of_the_v1_views_generates_without_warnings(tmp_path):
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        call_command("spectacular", "--validate", "--file", str(tmp_path / "schema.yaml"))
    problems = [line for line in stderr.getvalue().splitlines() if any(module in line for module in MY_MODULES)]
    assert problems == []
    schema = yaml.safe_load((tmp_path / "schema.yaml").read_text())
    assert "/api/v1/orders/" in schema["paths"]


def test_docs_page_renders(staff_client, anon_client):
    response = staff_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    # The schema describes the API, not its data: it is public, like the docs page.
    assert anon_client.get("/api/schema/").status_code == 200


def test_whole_schema_generates_without_warnings(tmp_path):
    """Every view of every app is described: drf-spectacular's own validation, warnings as errors."""
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/metrics/" in target.read_text()
