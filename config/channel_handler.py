"""The handler of channel API requests (see config/wsgi.py): Django's WSGI handler over ``CHANNEL_API_MIDDLEWARE``."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

CHANNEL_API_CSP = "default-src 'none'; frame-ancestors 'none'"


def is_channel_api_request(environ) -> bool:
    return (
        environ.get("PATH_INFO", "").startswith("/api/")
        and environ.get("HTTP_AUTHORIZATION", "").startswith("Api-Key ")
        and not environ.get("HTTP_COOKIE")
    )


class ChannelApiHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE: the shorter list stands in for it while this one is built
        # (once per process, before any request).
        full = settings.MIDDLEWARE
        missing = [path for path in settings.CHANNEL_API_MIDDLEWARE if path not in full]
        if missing:
            raise RuntimeError(f"CHANNEL_API_MIDDLEWARE names middleware MIDDLEWARE does not: {missing}")
        settings.MIDDLEWARE = list(settings.CHANNEL_API_MIDDLEWARE)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full

    def get_response(self, request):
        response = super().get_response(request)
        response.headers.setdefault("Content-Security-Policy", CHANNEL_API_CSP)
        return response
