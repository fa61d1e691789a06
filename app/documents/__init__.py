"""Documents with hybrid search (vectors + BM25), on embedded Qdrant or a Weaviate server.

This facade sits with the composition root (``get_document_store`` asks the process's runtime);
the package's own modules import each other directly, never this one.

    from app.documents import get_document_store

    store = get_document_store()       # the process runtime's: Weaviate if WEAVIATE_URL is set, else Qdrant
    await store.add_file("handbook/refunds.md", metadata={"team": "finance"})   # txt, md, html, pdf
    await store.add_text("Deploys freeze on Fridays.", source="notes/deploys")
    hits = await store.search("money back?", limit=5, filters={"team": "finance"})  # DocumentHit list
    await store.sources()  /  await store.delete("notes/deploys")
"""

from app.documents.backends import DOCUMENT_SOURCES, DOCUMENTS, SEARCH_MODES, DocumentBackend
from app.documents.choice import backend_for, build_document_store
from app.documents.chunking import ChunkingOptions, chunk_document
from app.documents.models import AddResult, Chunk, DocumentHit, ParsedDocument, Section, SourceInfo
from app.documents.parsing import SUFFIXES, parse
from app.documents.process import get_document_store
from app.documents.store import DocumentStore

__all__ = [
    "DOCUMENTS", "DOCUMENT_SOURCES", "SEARCH_MODES", "SUFFIXES", "AddResult", "Chunk", "ChunkingOptions",
    "DocumentBackend", "DocumentHit", "DocumentStore", "ParsedDocument", "Section", "SourceInfo", "backend_for",
    "build_document_store", "chunk_document", "get_document_store", "parse",
]
