"""The one error shape (RFC 9457 problem details) as the API clients see it."""

import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework.test import APIRequestFactory

from core.api import problem_exception_handler
from core.errors import DomainError
from inventory.exceptions import UnknownSku

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"] == f"https://oms.example.com/problems/{code.replace('_', '-')}"
    return body


def test_domain_error_carries_code_status_and_details(channel_client, make_product):
    make_product(sku="A-1", stock=1)
    body = problem(
        channel_client.post(
            "/api/v1/orders/",
            {
                "customer": {"external_id": "c", "email": "c@example.com", "name": "C"},
                "lines": [{"sku": "ZZ", "quantity": 1}],
            },
            format="json",
        ),
        422,
        "unknown_sku",
    )
    assert body["title"] == "Unknown SKU"
    assert body["details"] == {"skus": ["ZZ"]}


def test_validation_error_lists_fields(staff_client):
    body = problem(staff_client.post("/api/v1/warehouses/", {"name": 5}, format="json"), 400, "validation_error")
    # Every field's problem at once: the missing code, and the name that is not a JSON string.
    assert set(body["errors"]) == {"code", "name"}
    assert body["detail"].startswith("code:")


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("delete", "/api/v1/products/", 405, "method_not_allowed"),
        ("put", "/api/v1/orders/", 405, "method_not_allowed"),
        ("get", "/api/v1/stock/adjustments/", 405, "method_not_allowed"),
    ],
)
def test_http_errors_are_problems(staff_client, method, path, status, code):
    problem(getattr(staff_client, method)(path), status, code)


def test_not_acceptable_and_unsupported_media_type(staff_client):
    problem(staff_client.get("/api/v1/products/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
    problem(
        staff_client.generic("POST", "/api/v1/warehouses/", b"<x/>", content_type="application/xml"),
        415,
        "unsupported_media_type",
    )


def test_handler_converts_django_errors():
    request = APIRequestFactory().get("/")
    response = problem_exception_handler(DjangoValidationError({"sku": ["bad"]}), {"request": request})
    assert (response.status_code, response.data["code"], response.data["errors"]) == (
        400,
        "validation_error",
        {"sku": ["bad"]},
    )
    assert problem_exception_handler(Http404(), {"request": request}).data["code"] == "not_found"
    response = problem_exception_handler(UnknownSku("nope", details={"skus": ["X"]}), {"request": request})
    assert (response.status_code, response.data["details"]) == (422, {"skus": ["X"]})
    assert isinstance(UnknownSku(), DomainError)


def test_unexpected_exceptions_are_not_hidden():
    request = APIRequestFactory().get("/")
    assert problem_exception_handler(RuntimeError("bug"), {"request": request}) is None


def test_unknown_api_url_is_a_problem_but_pages_stay_html(staff_client, client):
    problem(staff_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    problem(staff_client.get("/api/v1/backorders/not-a-number/"), 404, "not_found")
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_server_error_under_api_is_a_problem(rf):
    from core.api import api_aware_500

    response = api_aware_500(rf.get("/api/v1/orders/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["code"] == "internal_error"
    assert api_aware_500(rf.get("/")).status_code == 500
