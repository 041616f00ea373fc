"""Each rule the schema states (config/openapi.py), and the API behaviour it describes.

The schemathesis run (test_schemathesis.py) checks the whole contract by generated requests; these tests pin each
rule on its own, so a regression names the rule it breaks.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from core.api_reference import operation_heading, operations, render_reference
from core.management.commands.api_reference import current_schema

pytestmark = pytest.mark.django_db
API = "/api/v1"
ROOT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def schema():
    return current_schema()


def components(schema):
    return schema["components"]["schemas"]


def request_schema(schema, method, path):
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return components(schema)[ref.rsplit("/", 1)[-1]]


# --- every operation declares its errors ------------------------------------------------------------


def test_every_operation_declares_problem_json_errors(schema):
    assert "Problem" in components(schema)
    assert {"type", "title", "status", "detail", "code"} <= set(components(schema)["Problem"]["required"])
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "429", "503"}
        if any(p["in"] == "path" for p in operation.get("parameters", [])) or method != "GET":
            expected.add("404")
        if method != "GET":
            expected |= {"400", "409", "413", "422"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        for status in ("429", "503"):
            assert "Retry-After" in responses[status]["headers"]


def test_list_operations_declare_400_and_404_for_their_page_parameters(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert {"400", "404"} <= set(schema["paths"]["/api/v1/orders/"]["get"]["responses"])


def test_a_channel_gets_a_declared_403_problem_on_every_staff_only_operation(schema, channel_client):
    staff_only = [
        (method, path, operation)
        for method, path, operation in operations(schema)
        if operation["x-callers"] == ["staff"]
    ]
    assert len(staff_only) >= 30
    for method, path, _ in staff_only:
        url = re.sub(r"\{[^}]+\}", "1", path)  # any value: the permission is checked before the lookup
        response = getattr(channel_client, method.lower())(url, {}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"


# --- request rules --------------------------------------------------------------------------------------


def test_strict_request_bodies_refuse_unknown_fields_in_the_schema(schema):
    for name in ("OrderCreateInputRequest", "OrderLineInputRequest", "PurchaseOrderCreateInputRequest"):
        assert components(schema)[name]["additionalProperties"] is False, name


def test_non_empty_lists_have_min_items_and_limits(schema):
    order = request_schema(schema, "post", "/api/v1/orders/")
    assert order["properties"]["lines"]["minItems"] == 1
    assert order["properties"]["lines"]["maxItems"] == settings.OMS["MAX_ORDER_LINES"]
    line = components(schema)["OrderLineInputRequest"]["properties"]["quantity"]
    assert (line["minimum"], line["maximum"]) == (1, settings.OMS["MAX_LINE_QUANTITY"])
    purchase_order = request_schema(schema, "post", "/api/v1/purchase-orders/")
    assert purchase_order["properties"]["lines"]["minItems"] == 1


def test_an_adjustment_quantity_is_not_zero_in_schema_and_api(schema, staff_client, make_product):
    quantity = request_schema(schema, "post", "/api/v1/stock/adjustments/")["properties"]["quantity"]
    assert quantity["not"] == {"enum": [0]}
    make_product(sku="A-1", stock=1)
    body = {"sku": "A-1", "warehouse": "MAIN", "quantity": 0, "reason": "count"}
    response = staff_client.post(f"{API}/stock/adjustments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["quantity"] == ["An adjustment must change the quantity (it cannot be 0)."]


def test_a_patch_body_requires_what_its_serializer_requires(schema):
    body = request_schema(schema, "patch", "/api/v1/customers/{customer_id}/")
    assert body["required"] == ["tier"]


def test_a_purchase_order_date_change_states_its_reason_rule(schema):
    body = request_schema(schema, "patch", "/api/v1/purchase-orders/{number}/")
    assert "reason" in body["required"]


def test_names_and_text_state_the_characters_they_refuse(schema):
    name = components(schema)["CustomerInputRequest"]["properties"]["name"]["pattern"]
    assert re.fullmatch(name, "Ana Lima")
    for refused in ("Ana\nLima", "Ana\u202eLima", "Ana\x00"):
        assert not re.fullmatch(name, refused)
    sku = components(schema)["OrderLineInputRequest"]["properties"]["sku"]["pattern"]
    assert re.fullmatch(sku, "A-1") and not re.fullmatch(sku, "A\x00") and not re.fullmatch(sku, "   ")


def test_decimals_are_strings_with_a_pattern_that_needs_a_digit(schema):
    price = request_schema(schema, "post", "/api/v1/products/")["properties"]["unit_price"]
    assert price["type"] == "string"
    assert re.fullmatch(price["pattern"], "4.50")
    for refused in ("", "-", "-1", "1.234"):
        assert not re.fullmatch(price["pattern"], refused), refused


def test_filters_state_types_lengths_and_ordering(schema):
    backorders = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/backorders/"]["get"]["parameters"]}
    assert backorders["min_age"]["type"] == "integer" and backorders["min_age"]["minimum"] == 0
    assert backorders["sku"]["maxLength"] == 64
    assert backorders["sla_breached"] == {"type": "boolean"}
    products = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert products["backorderable"] == {"type": "boolean"}
    notifications = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/notifications/"]["get"]["parameters"]}
    assert notifications["ordering"]["pattern"].startswith("^(-?(created_at|id|attempts)")


def test_idempotency_key_header_states_its_rule(schema):
    header = next(p for p in schema["paths"]["/api/v1/orders/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"]["maxLength"] == 200 and header["schema"]["minLength"] == 1


# --- nullable responses --------------------------------------------------------------------------------


def test_purchase_order_dates_that_can_be_null_are_nullable(schema):
    properties = components(schema)["PurchaseOrderOutput"]["properties"]
    for name in ("sent_at", "received_at", "cancelled_at"):
        assert properties[name].get("nullable") is True, name


# --- the API does what the schema says ------------------------------------------------------------------


def test_json_types_are_not_coerced(staff_client):
    refused = [
        ("/warehouses/", {"code": "W-2", "name": 5}, "name"),
        ("/products/", {"sku": "X-1", "name": "X", "unit_price": 4.5}, "unit_price"),
        ("/products/", {"sku": "X-1", "name": "X", "unit_price": "4.50", "backorderable": "true"}, "backorderable"),
    ]
    for path, body, field in refused:
        response = staff_client.post(f"{API}{path}", body, format="json")
        assert response.status_code == 400, (path, body)
        assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/orders/?placed_before=", "placed_before"),
        ("/backorders/?sla_due_before=", "sla_due_before"),
        ("/backorders/?min_age=", "min_age"),
        ("/backorders/?status=", "status"),
        ("/backorders/?sla_breached=null", "sla_breached"),
        ("/backorders/?sla_breached=1", "sla_breached"),
        ("/notifications/?backorder=0.5", "backorder"),
    ],
)
def test_typed_filters_refuse_empty_and_mistyped_values(staff_client, path, parameter):
    response = staff_client.get(f"{API}{path}")
    assert response.status_code == 400
    assert parameter in response.json()["errors"]


def test_text_filters_and_ordering_may_be_empty(staff_client):
    assert staff_client.get(f"{API}/orders/?customer=&ordering=").status_code == 200
    assert staff_client.get(f"{API}/backorders/?sla_breached=true&has_sla=false").status_code == 200


def test_a_date_time_filter_with_any_rfc3339_offset_is_not_a_server_error(staff_client):
    for value in ("5538-11-20T12:14:10-22:46", "9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"):
        response = staff_client.get(f"{API}/orders/", {"placed_after": value})
        assert response.status_code == 200, value


def test_page_size_above_the_maximum_is_capped_as_documented(staff_client):
    response = staff_client.get(f"{API}/customers/?page_size=100000")
    assert response.status_code == 200


# --- the reference ---------------------------------------------------------------------------------------


def test_the_reference_covers_every_operation_in_the_schema(schema):
    reference = (ROOT / "docs" / "api-reference.md").read_text()
    missing = [f"{m} {p}" for m, p, _ in operations(schema) if operation_heading(m, p) not in reference]
    assert missing == [], f"run `python manage.py api_reference`; missing: {missing}"
    assert len(operations(schema)) >= 50


def test_the_generated_reference_is_not_stale():
    out = io.StringIO()
    call_command("api_reference", "--check", stdout=out)
    assert "up to date" in out.getvalue()


def test_the_reference_shows_parameters_fields_and_statuses(schema):
    text = render_reference(schema)
    section = text.split(operation_heading("POST", "/api/v1/purchase-orders/"))[1].split("### ")[0]
    assert "| `lines` |" in section and "min items 1" in section
    assert "| `lines[].quantity` |" in section
    assert "| 422 | `Problem` |" in section
    assert "Unknown fields are refused." in section
    assert "Auth: staff." in section


def test_readme_points_at_the_complete_reference():
    readme = (ROOT / "README.md").read_text()
    assert "docs/api-reference.md" in readme


# --- examples in the docs work as written -----------------------------------------------------------------


def _curl_commands():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            if line.lstrip().startswith("curl") and "/api/v1/" in line:
                yield path.name, line


def test_no_doc_uses_basic_auth():
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = path.read_text()
        assert "-u admin" not in text and "--user " not in text, path.name


def test_every_curl_against_the_api_sends_credentials():
    commands = list(_curl_commands())
    assert len(commands) > 20
    for name, command in commands:
        assert "Authorization:" in command or '"${H[@]}"' in command, (name, command)


def test_allocation_examples_use_dates_a_purchase_order_accepts():
    # Expected dates lie between today and the horizon: the example computes one instead of hard-coding it.
    text = (ROOT / "docs" / "allocation.md").read_text()
    assert "date -d '+14 days' +%F" in text
    assert '"expected_date": "20' not in text


# --- docs pages, offline ---------------------------------------------------------------------------------------


def test_swagger_ui_and_redoc_are_served_from_local_files(staff_client, anon_client):
    for url in ("/api/docs/", "/api/redoc/"):
        response = anon_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "cdn.jsdelivr" not in page and "unpkg.com" not in page, url
        assert "/static/drf_spectacular_sidecar/" in page, url
