"""Redis connection pools that ride out a Redis restart: the limiter, the breakers and the cache use them.

After Redis restarts, every pooled connection is stale: its next command fails once. Counting that
as an outage opened a window with no limits on each stale connection in turn (two instances at a
20/minute limit let 200, 200, 200, 200 requests of successive bursts through). Here a command that
fails with a connection error is sent again, at once, on a fresh connection; only a failure that
survives the reconnect reaches the caller, and so ``app.core.outage`` (Redis is then really down).
Timeouts are not retried: a Redis that hangs must not cost two timeouts.

The pool blocks (up to ``POOL_WAIT`` seconds) when all its connections are busy, instead of
refusing the command ("Too many connections", redis-py's default beyond 100): a burst waits for a
connection a few milliseconds rather than failing open.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any
from urllib.parse import urlsplit

MAX_CONNECTIONS = 64
"""Connections per pool (one pool per process and event loop, per user of Redis)."""
POOL_WAIT = 5.0
"""Seconds a command waits for a free connection of a busy pool."""


def redis_location(url: str) -> str:
    """host:port of a Redis URL, without the password it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}"


def redis_pool(url: str, *, timeout: float = 0.5, max_connections: int = MAX_CONNECTIONS) -> Any:
    """A ``redis.asyncio.BlockingConnectionPool`` for ``url``: one immediate retry on a fresh connection
    after a connection error, ``timeout`` seconds to connect and per command."""
    from redis.asyncio import BlockingConnectionPool
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=POOL_WAIT, socket_timeout=timeout,
        socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def redis_client(url: str, *, timeout: float = 0.5) -> Any:
    """A ``redis.asyncio.Redis`` on its own ``redis_pool`` (bind it to one event loop)."""
    from redis.asyncio import Redis

    return Redis(connection_pool=redis_pool(url, timeout=timeout))


def limits_storage(redis_url: str | None, key_prefix: str) -> Any:
    """The ``limits`` library's async storage: Redis on a ``redis_pool`` when ``redis_url`` is set, else memory."""
    from limits.aio.storage import MemoryStorage, RedisStorage

    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
    return RedisStorage(uri, implementation="redispy", key_prefix=key_prefix, connection_pool=redis_pool(redis_url))


class LoopClients:
    """One ``redis_client`` per event loop: a pool is bound to the loop it first ran on, and the spec's
    examples run each call in a new ``asyncio.run`` (a service or a benchmark has exactly one)."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        self.url = url
        self.timeout = timeout
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def client(self) -> Any:
        """The running loop's client (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # A pool refers back to its loop, so finished loops are dropped by hand (see GatewayTransport).
            for finished in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[finished]
            client = self._clients[loop] = redis_client(self.url, timeout=self.timeout)
        return client

    async def aclose(self) -> None:
        """Close the running loop's pool."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
