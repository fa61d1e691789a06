"""The Redis backend: one cache shared by every instance of the service.

One ``redis.asyncio`` client (and so one connection pool, ``app.core.redis_link``) per event loop,
for the same reason as the gateway transport: a pool is bound to the loop it first ran on. When Redis fails, the
operation counts as a miss (or a skipped store), one warning is logged for the whole outage, and
Redis is left alone for ``retry_interval`` seconds so an outage costs at most one timeout per
interval instead of one per request; the first operation that succeeds afterwards ends the outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from app.cache.backends import CacheBackend, Clock
from app.cache.metrics import BACKEND_ERRORS
from app.core.outage import Outage
from app.core.redis_link import LoopClients, redis_location

log = logging.getLogger("app.cache")


class RedisBackend(CacheBackend):
    """Cache entries in Redis, shared by every process that uses the same ``REDIS_URL``.

    While Redis is down, lookups miss and stores are dropped; it is tried again every
    ``retry_interval`` seconds.
    """

    name = "redis"

    def __init__(self, url: str, *, timeout: float = 0.5, retry_interval: float = 1.0,
                 clock: Clock = time.monotonic) -> None:
        self.location = redis_location(url)
        self._clients = LoopClients(url, timeout=timeout)
        self.outage = Outage(f"redis cache at {self.location}", retry_interval, log,
                             consequence="requests go on uncached until it is back", clock=clock)

    @property
    def available(self) -> bool:
        """False during an outage."""
        return not self.outage.down

    def _client(self) -> Any:  # a redis.asyncio.Redis, imported lazily
        # A stale connection (Redis restarted) is replaced at once; a Redis that is down or hangs
        # costs one timeout, then the cache misses rather than make requests wait.
        return self._clients.client()

    def _failed(self, operation: str, exc: Exception) -> None:
        BACKEND_ERRORS.labels(self.name, operation).inc()
        self.outage.failed(type(exc).__name__)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """One MGET; every value None while Redis is unreachable."""
        if not keys or self.outage.paused:
            return [None] * len(keys)
        from redis.exceptions import RedisError

        try:
            values = await self._client().mget(list(keys))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return [None] * len(keys)
        self.outage.succeeded()
        return list(values)

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        """One pipeline of SETs with a millisecond expiry; dropped while Redis is unreachable."""
        if not items or self.outage.paused:
            return
        from redis.exceptions import RedisError

        ttl_ms = max(1, int(ttl * 1000))
        try:
            async with self._client().pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, px=ttl_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("set", exc)
            return
        self.outage.succeeded()

    async def aclose(self) -> None:
        """Close the running loop's connection pool."""
        await self._clients.aclose()
