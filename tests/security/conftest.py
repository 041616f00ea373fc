import json

import pytest
from django.core.cache import cache


@pytest.fixture
def problem():
    """Assert an RFC 9457 problem+json answer and return its body."""

    def check(response, status: int, code: str) -> dict:
        assert response.status_code == status, response.content[:500]
        assert response["Content-Type"] == "application/problem+json"
        body = json.loads(response.content)
        assert (body["status"], body["code"]) == (status, code)
        assert {"type", "title", "detail"} <= set(body)
        return body

    return check


@pytest.fixture
def rates(settings):
    """``rates(channel="10/min", ...)``: the API throttle rates for this test, counted from an empty cache."""

    def set_rates(**scoped: str) -> None:
        current = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
        current.update(scoped)
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": current}
        cache.clear()

    yield set_rates
    cache.clear()
