"""The process's document store: the one the process's runtime (``app.runtime.process_runtime()``) built.

A facade at the composition root's level: code inside ``app.documents`` never imports it.
"""

from __future__ import annotations

from app.documents.store import DocumentStore


def get_document_store() -> DocumentStore:
    """The process's document store (Weaviate when ``WEAVIATE_URL`` is set, else Qdrant), built on first
    use from the environment and ``.env`` with the runtime's embedder; nothing is opened until first use."""
    from app.runtime import process_runtime  # at call time: the runtime imports this package's modules

    return process_runtime().documents
