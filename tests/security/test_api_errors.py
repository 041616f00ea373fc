"""Every error under /api/ is problem+json, with DEBUG on or off, including the ones Django answers itself."""

import logging

import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def test_a_5_mb_body_is_a_413_problem_and_nothing_is_written(channel_client, make_product, problem, caplog):
    make_product(sku="A-1", stock=5)
    padding = "x" * (5 * 1024 * 1024)
    payload = (
        '{"customer": {"external_id": "c", "email": "c@example.com", "name": "C"},'
        f' "lines": [{{"sku": "A-1", "quantity": 1}}], "note": "{padding}"}}'
    ).encode()
    with caplog.at_level(logging.INFO):
        response = channel_client.generic("POST", ORDERS, payload, content_type="application/json")
    body = problem(response, 413, "payload_too_large")
    assert body["title"] == "Payload too large"
    assert not Order.objects.exists()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback in the log for a client error"


def test_a_body_under_the_limit_is_still_served(channel_client, make_product):
    make_product(sku="A-1", stock=5)
    response = channel_client.post(
        ORDERS,
        {
            "customer": {"external_id": "c", "email": "c@example.com", "name": "C"},
            "lines": [{"sku": "A-1", "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content


def test_request_data_too_big_raised_while_reading_is_a_413(rf, problem):
    """A body read past the limit without a declared length (chunked) raises RequestDataTooBig in the view."""
    from django.core.exceptions import RequestDataTooBig

    from config.middleware import ApiProblemMiddleware

    middleware = ApiProblemMiddleware(lambda request: None)
    problem(middleware.process_exception(rf.post("/api/v1/orders/"), RequestDataTooBig()), 413, "payload_too_large")
    assert middleware.process_exception(rf.post("/accounts/login/"), RequestDataTooBig()) is None


@pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])
def test_unknown_api_url_is_a_404_problem_in_every_mode(settings, client, staff_user, problem, debug):
    settings.DEBUG = debug
    client.force_login(staff_user)
    problem(client.get("/api/v1/no-such-thing/"), 404, "not_found")
    problem(client.get("/api/no-such-version/orders/"), 404, "not_found")
    # Pages outside the API keep Django's HTML answer.
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])
def test_disallowed_host_under_api_is_a_400_problem(settings, client, problem, debug):
    settings.DEBUG = debug
    problem(client.get("/api/v1/orders/", HTTP_HOST="evil.example"), 400, "bad_request")
