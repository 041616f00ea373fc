"""The rate-limit counter: one Redis round trip per request, atomic under concurrency, expiring with its window;
the same counts on the local-memory cache."""

import os
import threading

import pytest
from django.core.cache import cache

from core.throttling import _count, redis_cache

REDIS = os.environ.get("CELERY_BROKER_URL", "")


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings):
    if request.param == "redis":
        if not REDIS.startswith("redis://"):
            pytest.skip("needs Redis (CELERY_BROKER_URL=redis://…)")
        settings.CACHES = {
            "default": {
                "BACKEND": "core.cache.RedisCache",
                "LOCATION": REDIS,
                "KEY_PREFIX": "test-throttle",
            }
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield request.param
    cache.clear()


def test_counts_up_and_expires_with_its_window(backend):
    assert [_count("throttle:t:a:1", 60) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert _count("throttle:t:b:1", 60) == 1  # another caller, another window
    assert (redis_cache() is not None) == (backend == "redis")  # Redis counts in one round trip (a pipeline)
    if backend == "redis":
        key = cache.make_and_validate_key("throttle:t:a:1")
        ttl = cache._cache.get_client(key).ttl(key)
        assert 0 < ttl <= 61


def test_concurrent_requests_never_share_a_count(backend):
    seen, lock = [], threading.Lock()

    def hit():
        for _ in range(25):
            n = _count("throttle:t:c:1", 60)
            with lock:
                seen.append(n)

    _in_threads(hit, 8)
    assert sorted(seen) == list(range(1, 201))


def test_a_cache_keeps_one_redis_client_and_it_is_safe_to_share_between_threads(backend):
    if backend != "redis":
        pytest.skip("Redis only")
    from core.cache import RedisCache

    assert isinstance(redis_cache(), RedisCache)
    client = cache._cache.get_client("k", write=True)
    assert cache._cache.get_client("other") is client  # one server: reads and writes share one pool's client
    cache.set("shared", 0)
    key = cache.make_and_validate_key("shared")

    def use():
        for _ in range(50):
            client.incr(key)

    _in_threads(use, 4)
    assert cache.get("shared") == 200  # every increment counted over the one client's pool


def _in_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
