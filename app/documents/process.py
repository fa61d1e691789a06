"""The process's document store, built from settings: Weaviate when ``WEAVIATE_URL`` is set, else Qdrant.

Qdrant here is whatever ``QDRANT_URL`` / ``QDRANT_PATH`` name (local mode in
``<SOPHIA_DATA_DIR>/qdrant`` by default): the same store object agent memory uses, because local
mode allows one client per folder.
"""

from __future__ import annotations

import threading
from typing import Any

from app.documents.backends import DocumentBackend
from app.documents.store import DocumentStore
from app.vectors.registry import get_store

_lock = threading.Lock()
_stores: dict[int, DocumentStore] = {}


def _embedder() -> Any:
    from app.embeddings import get_embedder

    return get_embedder()


def document_backend(settings: Any) -> DocumentBackend:
    if settings.weaviate_url:
        from app.documents.weaviate_backend import WeaviateDocuments

        return WeaviateDocuments(get_store(settings, "weaviate"))
    from app.documents.qdrant_backend import QdrantDocuments

    return QdrantDocuments(get_store(settings, "qdrant"))


def get_document_store(settings: Any = None) -> DocumentStore:
    """One document store per vector store; nothing is opened or loaded until first use."""
    if settings is None:
        from app.core.settings import get_settings

        settings = get_settings()
    backend = document_backend(settings)
    with _lock:
        store = _stores.get(id(backend.store))
        if store is None or store.backend.store is not backend.store:
            store = _stores[id(backend.store)] = DocumentStore(backend, _embedder)
        return store
