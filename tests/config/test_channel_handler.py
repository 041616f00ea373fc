"""config/wsgi.py: a channel's API request goes through the shorter middleware chain, everything else through all."""

import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from config.channel_handler import CHANNEL_API_CSP

pytestmark = pytest.mark.django_db


def _call(path, *, method="GET", key=None, cookie=None, body=b""):
    from config.wsgi import application

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "443",
        "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1",
    }  # fmt: skip
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's connection (its transaction) is not closed around the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], content


def test_a_channel_request_is_answered_without_session_or_page_policy(channel_key, make_product):
    product = make_product(stock=5)
    body = json.dumps({"customer": {"external_id": "w1", "email": "w1@example.com", "name": "W"},
                       "lines": [{"sku": product.sku, "quantity": 2}]}).encode()  # fmt: skip
    status, headers, content = _call("/api/v1/orders/", method="POST", key=channel_key[1], body=body)
    assert status == 201, content
    assert json.loads(content)["lines"][0]["allocated"] == 2
    assert headers["Content-Security-Policy"] == CHANNEL_API_CSP
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in headers
    assert "Cookie" not in headers.get("Vary", "")  # no session middleware


def test_a_bad_key_is_still_a_problem_answer_and_a_large_body_still_refused(channel_key):
    status, headers, content = _call("/api/v1/orders/", key="nope")
    assert status == 401 and json.loads(content)["code"] in ("authentication_failed", "not_authenticated")
    assert headers["Content-Type"].startswith("application/problem+json")
    big = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    status, _, content = _call("/api/v1/orders/", method="POST", key=channel_key[1], body=big)
    assert status == 413 and json.loads(content)["code"] == "payload_too_large"


def test_a_request_with_a_cookie_takes_the_whole_chain(channel_key):
    status, headers, _ = _call("/api/v1/orders/", key=channel_key[1], cookie="sessionid=x")
    assert status == 200
    assert headers.get("Content-Security-Policy") != CHANNEL_API_CSP  # the page policy of django-csp
    assert "Cookie" in headers.get("Vary", "")  # the session middleware was there
