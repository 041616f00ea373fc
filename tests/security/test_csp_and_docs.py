"""The dashboard runs under a Content-Security-Policy with no inline script; the API docs are self-hosted."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_dashboard_pages_carry_a_strict_script_policy(client, staff_user):
    client.force_login(staff_user)
    for url in ("/", "/backorders/", "/planning/", "/accounts/login/"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        html = response.content.decode()
        # No inline script or handler the policy would block.
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert not re.search(r"\son[a-z]+=", html), url


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_need_no_internet(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(src|href)=\"https?://", html), "every asset is served by the app itself"
    assert "/static/drf_spectacular_sidecar/" in html
    assert _policy(response)["script-src"] == ["'self'"]
