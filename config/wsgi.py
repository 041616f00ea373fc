"""The WSGI application: channel API requests through a shorter middleware chain, everything else through all of it.

A storefront's or portal's request (``Authorization: Api-Key …`` under ``/api/``, no cookie) never uses a session,
CSRF (API views are exempt; it guards cookie logins), ``request.user`` from a session, flash messages, htmx or the
login lockout: ``CHANNEL_API_MIDDLEWARE`` (settings) keeps what applies to it — security headers and the HTTPS
redirect, problem+json errors and the body size limit, common handling, X-Frame-Options — and the JSON answers get a
fixed ``Content-Security-Policy`` (``default-src 'none'; frame-ancestors 'none'``: nothing in them may load or frame
anything) instead of the page policy django-csp builds per response. Order intake is the hot path: this is ~0.15 ms
of CPU less per order (docs/performance.md). A request that carries a cookie takes the full chain.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
_full = get_wsgi_application()

from config.channel_handler import ChannelApiHandler, is_channel_api_request  # noqa: E402  (after setup)

_channel = ChannelApiHandler()

# What is loaded by now (Django, the apps, every URL module and the views they import) lives as long as the worker:
# frozen out of the garbage collector's generations, so a full collection walks only what requests left behind.
# Measured under bench/orders.py: about one full collection per worker per 1,000 orders, 120-200 ms before, 5-14 ms
# frozen — one slow order in a thousand per worker (p99.9, not p99; docs/performance.md).
get_resolver().url_patterns  # noqa: B018  (imports every URL module now, not on the first request)
gc.freeze()


def application(environ, start_response):
    if is_channel_api_request(environ):
        return _channel(environ, start_response)
    return _full(environ, start_response)
