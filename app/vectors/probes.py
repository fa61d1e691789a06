"""Health probes for ``health_check()["vector_databases"]``: each store reports true/false with a reason.

- redis: the cache's server at ``REDIS_URL`` (the spec lists it with the stores); else not configured.
- qdrant: the server at ``QDRANT_URL``, else local mode at ``QDRANT_PATH`` (always configured).
- weaviate: a server at ``WEAVIATE_URL`` only; otherwise "not configured".
- milvus: configured when ``MILVUS_URI`` is set or ``VECTOR_STORE=milvus`` (Milvus Lite starts a
  child process, so an unused Milvus is not started just to be probed).

The composition root hands ``store_probes(settings)`` to the health checker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.vectors.registry import get_store

StoreProbe = Callable[[], Awaitable[tuple[bool, str]]]
"""Answers (ok, reason); may raise (the checker reports the exception as the reason)."""


def _store_probe(settings: Any, kind: str) -> StoreProbe:
    store = get_store(settings, kind)

    async def probe() -> tuple[bool, str]:
        return await store.health()

    return probe


def _redis_probe(url: str) -> StoreProbe:
    async def probe() -> tuple[bool, str]:
        import redis.asyncio as redis

        client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
            return True, "PING answered"
        finally:
            await client.aclose()

    return probe


def store_probes(settings: Any) -> dict[str, StoreProbe | None]:
    """Every store the health check reports on: a probe, or None when it is not configured."""
    use_milvus = bool(settings.milvus_uri) or settings.vector_store == "milvus"
    return {
        "redis": _redis_probe(settings.redis_url) if settings.redis_url else None,
        "qdrant": _store_probe(settings, "qdrant"),
        "weaviate": _store_probe(settings, "weaviate") if settings.weaviate_url else None,
        "milvus": _store_probe(settings, "milvus") if use_milvus else None,
    }
