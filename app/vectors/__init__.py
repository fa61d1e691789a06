"""Vector stores behind one interface: Qdrant (local folder or server), Milvus (Lite or server), Weaviate.

    store = get_store(settings)                      # VECTOR_STORE=qdrant (default) | milvus
    await store.ensure_collection("agent_memory", 384, keyword_fields=("agent_id",))
    await store.upsert("agent_memory", [Point(id, vector, {"agent_id": "..."})])
    hits = await store.search("agent_memory", vector, limit=5, where={"agent_id": "..."})
"""

from app.vectors.base import Filter, Hit, Point, Record, VectorStore, VectorStoreError
from app.vectors.collections import (
    AGENT_MEMORY,
    ARTEMIS_TACTICAL,
    COLLECTIONS,
    SOPHIA_KNOWLEDGE,
    CollectionSpec,
)
from app.vectors.registry import close_stores, get_store, milvus_uri, qdrant_path

__all__ = [
    "AGENT_MEMORY", "ARTEMIS_TACTICAL", "COLLECTIONS", "SOPHIA_KNOWLEDGE", "CollectionSpec", "Filter", "Hit",
    "Point", "Record", "VectorStore", "VectorStoreError", "close_stores", "get_store", "milvus_uri", "qdrant_path",
]
