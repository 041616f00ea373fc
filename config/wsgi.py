"""The WSGI application: channel API requests through a shorter middleware chain, everything else through all of it.

A storefront's or portal's request (``Authorization: Api-Key …`` under ``/api/``, no cookie) never uses a session,
CSRF (API views are exempt; it guards cookie logins), ``request.user`` from a session, flash messages, htmx or the
login lockout: ``CHANNEL_API_MIDDLEWARE`` (settings) keeps what applies to it — security headers and the HTTPS
redirect, problem+json errors and the body size limit, common handling, X-Frame-Options — and the JSON answers get a
fixed ``Content-Security-Policy`` (``default-src 'none'; frame-ancestors 'none'``: nothing in them may load or frame
anything) instead of the page policy django-csp builds per response. Order intake is the hot path: this is ~0.15 ms
of CPU less per order (docs/performance.md). A request that carries a cookie takes the full chain.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
_full = get_wsgi_application()

from config.channel_handler import ChannelApiHandler, is_channel_api_request  # noqa: E402  (after setup)

_channel = ChannelApiHandler()


def application(environ, start_response):
    if is_channel_api_request(environ):
        return _channel(environ, start_response)
    return _full(environ, start_response)
