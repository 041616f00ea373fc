"""The Redis cache backend (``CACHE_URL``), with one client per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache operation, and redis-py's
constructor registers its ~170 response callbacks each time: ~0.2 ms of CPU per operation, paid twice by every API
request (its rate-limit count and the key-guessing check, ``core.throttling``). A ``redis.Redis`` is safe to share
between threads over its connection pool, so each pool's client is built once and reused. Everything else is
Django's backend unchanged."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients.setdefault(index, self._client(connection_pool=self._get_connection_pool(write)))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient
