"""Vector database connections and collections (the spec's entry point).

    from app.core.vector_db_config import get_vector_store, ensure_collections, COLLECTIONS

    store = get_vector_store()                 # Qdrant local at QDRANT_PATH unless configured otherwise
    await ensure_collections(store)            # artemis_tactical, sophia_knowledge, agent_memory

Stores: Qdrant (``QDRANT_URL``/``QDRANT_API_KEY`` for a server, else local mode at ``QDRANT_PATH``,
default ``<SOPHIA_DATA_DIR>/qdrant``), Milvus (``MILVUS_URI``: a server URL or a Milvus Lite ``*.db``
file) and Weaviate (``WEAVIATE_URL``, server only). See app/vectors for the interface and adapters.
Like ``portkey_config``, this spec-named module belongs to the composition root.
"""

from __future__ import annotations

from typing import Any

from app.vectors import (
    AGENT_MEMORY,
    ARTEMIS_TACTICAL,
    COLLECTIONS,
    SOPHIA_KNOWLEDGE,
    CollectionSpec,
    Hit,
    Point,
    Record,
    VectorStore,
    VectorStoreError,
    close_stores,
)
from app.vectors.registry import get_store

__all__ = [
    "AGENT_MEMORY", "ARTEMIS_TACTICAL", "COLLECTIONS", "SOPHIA_KNOWLEDGE", "CollectionSpec", "Hit", "Point",
    "Record", "VectorStore", "VectorStoreError", "close_stores", "ensure_collections", "get_vector_store",
]


def get_vector_store(kind: str | None = None, settings: Any = None) -> VectorStore:
    """The process's store: ``kind`` is qdrant, milvus or weaviate (default ``VECTOR_STORE``)."""
    if settings is None:
        from app.core.settings import get_settings

        settings = get_settings()
    return get_store(settings, kind)


async def ensure_collections(store: VectorStore | None = None, dimension: int | None = None) -> list[str]:
    """Create the three collections with the embedder's dimension (default: the process runtime's embedder's)."""
    store = store or get_vector_store()
    if dimension is None:
        from app.runtime import process_runtime

        embedder = process_runtime().embedder
        dimension = embedder.dimension or len(await embedder.embed_one("dimension probe"))
    for spec in COLLECTIONS.values():
        await store.ensure_collection(spec.name, dimension, spec.keyword_fields)
    return list(COLLECTIONS)
