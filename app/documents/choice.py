"""Which document store the settings ask for: Weaviate when ``WEAVIATE_URL`` is set, else Qdrant.

Qdrant here is whatever ``QDRANT_URL`` / ``QDRANT_PATH`` name (local mode in ``<SOPHIA_DATA_DIR>/qdrant``
by default): the same store object agent memory uses (from app.vectors.registry), because local mode
allows one client per folder. The composition root (``app.runtime``) builds one document store per
runtime; stores on the same vector store share one backend, because the Qdrant backend's keyword
index is exact only while every write to the folder goes through it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from app.documents.backends import DocumentBackend
from app.documents.store import DocumentStore
from app.embeddings.base import Embedder
from app.vectors.base import VectorStore
from app.vectors.registry import get_store

_lock = threading.Lock()
_backends: weakref.WeakValueDictionary[int, DocumentBackend] = weakref.WeakValueDictionary()


def backend_for(store: VectorStore) -> DocumentBackend:
    """The document backend on ``store`` (Weaviate's own hybrid search, or ours on Qdrant), one per store."""
    with _lock:
        backend = _backends.get(id(store))
        if backend is None or backend.store is not store:
            if store.kind == "weaviate":
                from app.documents.weaviate_backend import WeaviateDocuments

                backend = WeaviateDocuments(store)
            else:
                from app.documents.qdrant_backend import QdrantDocuments

                backend = QdrantDocuments(store)
            _backends[id(store)] = backend
        return backend


def build_document_store(settings: Any, embedder: Embedder) -> DocumentStore:
    """The document store the settings name, embedding with ``embedder``; nothing is opened until first
    use."""
    return DocumentStore(backend_for(get_store(settings, "weaviate" if settings.weaviate_url else "qdrant")),
                         embedder)
