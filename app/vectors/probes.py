"""Health probes for ``health_check()["vector_databases"]``: each store reports true/false with a reason.

- qdrant: the server at ``QDRANT_URL``, else local mode at ``QDRANT_PATH`` (always configured).
- milvus: configured when ``MILVUS_URI`` is set or ``VECTOR_STORE=milvus`` (Milvus Lite starts a
  child process, so an unused Milvus is not started just to be probed).
- weaviate: a server at ``WEAVIATE_URL`` only; otherwise "not configured".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.vectors.registry import get_store

if TYPE_CHECKING:
    from app.health import StoreProbe


def _probe(settings: Any, kind: str) -> StoreProbe:
    store = get_store(settings, kind)

    async def probe() -> tuple[bool, str]:
        return await store.health()

    return probe


def qdrant_probe(settings: Any) -> StoreProbe | None:
    return _probe(settings, "qdrant")


def milvus_probe(settings: Any) -> StoreProbe | None:
    if not settings.milvus_uri and settings.vector_store != "milvus":
        return None
    return _probe(settings, "milvus")


def weaviate_probe(settings: Any) -> StoreProbe | None:
    if not settings.weaviate_url:
        return None
    return _probe(settings, "weaviate")
