"""API rate limits, counted in the shared cache (Redis with CACHE_URL, per process otherwise).

``ClientRateThrottle`` gives every caller one budget: a sales channel per API key, staff per user, anonymous
callers per client address. ``bad_api_key_guard`` counts requests with an unknown API key per client address:
authentication runs before DRF's throttles, so a key-guessing client is stopped in the authentication path.

Fixed windows counted with ``cache.incr`` (atomic in Redis and in the local-memory cache), so concurrent requests
never both take the last slot. Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` on every request
(``"600/min"``; ``None`` switches a scope off).
"""

from __future__ import annotations

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .api import ChannelPrincipal

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_ip(request) -> str:
    """The client address: the socket's, or the one ``NUM_PROXIES`` trusted proxies put in X-Forwarded-For."""
    return BaseThrottle().get_ident(request)


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/min"`` → (600, 60)."""
    if not rate:
        return None
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0]]


def _rate(scope: str) -> tuple[int, int] | None:
    return parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(scope))


def _window_key(scope: str, ident: str, duration: int, now: float) -> tuple[str, float]:
    window = int(now // duration)
    return f"throttle:{scope}:{ident}:{window}", (window + 1) * duration - now


def redis_cache() -> RedisCache | None:
    """The default cache when it is Redis (``cache`` itself is a proxy to it), else None."""
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _count(key: str, duration: int) -> int:
    """Count one request in the window ``key``; returns the count so far. On Redis one round trip (SET NX with the
    expiry, then INCR, in one MULTI/EXEC: every API request pays it); elsewhere add then incr."""
    backend = redis_cache()
    if backend is not None:
        full_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(full_key, write=True).pipeline(transaction=True)
        pipe.set(full_key, 0, ex=duration + 1, nx=True)
        pipe.incr(full_key)
        return int(pipe.execute()[1])
    cache.add(key, 0, timeout=duration + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=duration + 1)
        return 1


class ClientRateThrottle(BaseThrottle):
    def __init__(self):
        self._wait: float | None = None

    def scope_and_ident(self, request) -> tuple[str, str]:
        user = request.user
        if isinstance(user, ChannelPrincipal):
            api_key_pk = getattr(request.auth, "pk", None)
            return "channel", f"key:{api_key_pk}" if api_key_pk is not None else str(user.pk)
        if user is not None and user.is_authenticated:
            return "staff", f"user:{user.pk}"
        return "anon", f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        scope, ident = self.scope_and_ident(request)
        rate = _rate(scope)
        if rate is None:
            return True
        limit, duration = rate
        key, remaining = _window_key(scope, ident, duration, time.time())
        if _count(key, duration) <= limit:
            return True
        self._wait = remaining
        return False

    def wait(self) -> float | None:
        return self._wait


class ScopedClientThrottle(ClientRateThrottle):
    """A further budget for one costly operation (``scope``: a rate in DEFAULT_THROTTLE_RATES), counted per caller
    like ClientRateThrottle; a view lists it after the default throttle."""

    scope = ""

    def scope_and_ident(self, request) -> tuple[str, str]:
        _, ident = super().scope_and_ident(request)
        return self.scope, ident


class WebhookPingThrottle(ScopedClientThrottle):
    scope = "webhook_ping"


class BadApiKeyGuard:
    """Counts failed API key attempts per client address; past the ``bad_api_key`` rate every further API key
    request from that address is refused with 429 until the window ends, right or wrong key."""

    scope = "bad_api_key"

    def _key(self, request) -> tuple[str, float, int, int] | None:
        rate = _rate(self.scope)
        if rate is None:
            return None
        limit, duration = rate
        key, remaining = _window_key(self.scope, client_ip(request), duration, time.time())
        return key, remaining, limit, duration

    def check(self, request) -> None:
        found = self._key(request)
        if found is None:
            return
        key, remaining, limit, _ = found
        if (cache.get(key) or 0) >= limit:
            raise exceptions.Throttled(wait=remaining, detail="Too many requests with an invalid API key.")

    def record_failure(self, request) -> None:
        found = self._key(request)
        if found is not None:
            key, _, _, duration = found
            _count(key, duration)


bad_api_key_guard = BadApiKeyGuard()
