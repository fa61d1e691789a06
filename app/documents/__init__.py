"""Documents with hybrid search (vectors + BM25), on embedded Qdrant or a Weaviate server.

    from app.documents import get_document_store

    store = get_document_store()                     # WEAVIATE_URL set: Weaviate; else Qdrant
    await store.add_file("handbook/refunds.md", metadata={"team": "finance"})   # txt, md, html, pdf
    await store.add_text("Deploys freeze on Fridays.", source="notes/deploys")
    hits = await store.search("money back?", limit=5, filters={"team": "finance"})  # DocumentHit list
    await store.sources()  /  await store.delete("notes/deploys")
"""

from app.documents.backends import DOCUMENT_SOURCES, DOCUMENTS, SEARCH_MODES, DocumentBackend
from app.documents.chunking import ChunkingOptions, chunk_document
from app.documents.models import AddResult, Chunk, DocumentHit, ParsedDocument, Section, SourceInfo
from app.documents.parsing import SUFFIXES, parse
from app.documents.process import document_backend, get_document_store
from app.documents.store import DocumentStore

__all__ = [
    "DOCUMENTS", "DOCUMENT_SOURCES", "SEARCH_MODES", "SUFFIXES", "AddResult", "Chunk", "ChunkingOptions",
    "DocumentBackend", "DocumentHit", "DocumentStore", "ParsedDocument", "Section", "SourceInfo", "chunk_document",
    "document_backend", "get_document_store", "parse",
]
