"""Where documents live: two collections on a vector store, and the logic both engines share.

``documents`` holds one point per chunk (vector: the chunk's text under its title and heading
path); ``document_sources`` holds one point per source (vector: the mean of its chunks), which says
which version of the source is current (``content_hash``) and how many chunks it has. Chunk ids are
uuid5 of source, content hash and index, so a new version never overwrites the old one in place:
it is written first, then the source's record moves to it, then the old chunks are deleted, so a
search during a re-add finds one version or the other, never neither.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from app.documents.models import Chunk, DocumentHit, Scalar, SourceInfo
from app.vectors.base import Point, VectorStore
from app.vectors.collections import CollectionSpec

SearchMode = Literal["hybrid", "vector", "keyword"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "vector", "keyword")
META_PREFIX = "meta_"
_NAMESPACE = uuid.UUID("6f1d2c4e-8a3b-4f0e-9c1d-2b7e5a9f3c10")

_CHUNK_FIELDS = {
    "source": "the source name (a path, a file name or a caller's name)",
    "content_hash": "sha256 of the source's content, format, metadata, chunking and embedder",
    "chunk_index": "0-based position of the chunk in its source",
    "chunk_count": "how many chunks the source has",
    "section": 'heading path, e.g. "Refund policy > Eligibility" ("" when none)',
    "page": "1-based PDF page the chunk starts on (PDFs only)",
    "text": "the chunk's text",
    "title": "the document's title (first heading, HTML title or PDF title; may be empty)",
    "format": '"text", "markdown", "html" or "pdf"',
    "added_at": "ISO-8601 UTC of the add that wrote this version",
    "meta_<key>": "each metadata value the caller gave (scalars)",
}
DOCUMENTS = CollectionSpec(
    "documents", "Chunks of added documents; vector: title, heading path and chunk text",
    MappingProxyType(_CHUNK_FIELDS), ("source", "content_hash", "format"))
DOCUMENT_SOURCES = CollectionSpec(
    "document_sources", "One record per added source (its current version); vector: the mean of its chunks",
    MappingProxyType({k: v for k, v in _CHUNK_FIELDS.items()
                      if k not in ("chunk_index", "section", "page", "text")}), ("source",))


def source_id(source: str) -> str:
    """The id of a source's record in ``document_sources``: a uuid5 of the source name."""
    return str(uuid.uuid5(_NAMESPACE, f"source\x1f{source}"))


def chunk_id(source: str, content_hash: str, index: int) -> str:
    """The id of a chunk: a uuid5 of its source, the version's content hash and its index."""
    return str(uuid.uuid5(_NAMESPACE, f"chunk\x1f{source}\x1f{content_hash}\x1f{index}"))


def where_for(filters: Mapping[str, Scalar]) -> dict[str, Scalar]:
    """Filters as the caller names them (metadata keys, plus ``source`` and ``format``) as payload fields."""
    return {key if key in ("source", "format") else META_PREFIX + key: value for key, value in filters.items()}


def source_payload(info: SourceInfo) -> dict[str, Any]:
    """A source's record as stored (metadata keys prefixed ``meta_``)."""
    return {"source": info.source, "content_hash": info.content_hash, "chunk_count": info.chunks,
            "format": info.format, "title": info.title or "", "added_at": info.added_at,
            **{META_PREFIX + k: v for k, v in info.metadata.items()}}


def chunk_payload(info: SourceInfo, chunk: Chunk) -> dict[str, Any]:
    """A chunk's payload: its source's record plus its position, section, page and text."""
    payload = {**source_payload(info), "chunk_index": chunk.index, "section": chunk.section, "text": chunk.text}
    if chunk.page is not None:  # absent rather than null: Weaviate cannot type a null
        payload["page"] = chunk.page
    return payload


def _metadata(payload: Mapping[str, Any]) -> dict[str, Scalar]:
    return {k[len(META_PREFIX):]: v for k, v in payload.items() if k.startswith(META_PREFIX) and v is not None}


def source_from(payload: Mapping[str, Any]) -> SourceInfo:
    """The ``SourceInfo`` of a stored source record (or of any of its chunks' payloads)."""
    return SourceInfo(source=payload["source"], chunks=int(payload["chunk_count"]), format=payload["format"],
                      title=payload.get("title") or None, content_hash=payload["content_hash"],
                      added_at=payload["added_at"], metadata=_metadata(payload))


def hit_from(payload: Mapping[str, Any], score: float) -> DocumentHit:
    """A search hit from a stored chunk's payload and the score it was ranked by."""
    page = payload.get("page")
    return DocumentHit(source=payload["source"], chunk=payload["text"], score=float(score),
                       index=int(payload["chunk_index"]), chunks=int(payload["chunk_count"]),
                       section=payload.get("section") or "", page=int(page) if page is not None else None,
                       title=payload.get("title") or None, format=payload["format"], metadata=_metadata(payload))


def mean_vector(vectors: Sequence[Sequence[float]]) -> list[float]:
    """The normalised mean of ``vectors`` (a source record's vector: the mean of its chunks')."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).tolist()


class DocumentBackend(ABC):
    """The document collections on one vector store; engines differ in how they search and page."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self._ready = False

    @property
    def kind(self) -> str:
        """The vector store's kind (``qdrant-local``, ``qdrant-server``, ``weaviate``)."""
        return self.store.kind

    @property
    def location(self) -> str:
        """Where the vector store is: a folder or a server URL."""
        return self.store.location

    async def ensure(self, dimension: int) -> None:
        """Create both collections (vectors of ``dimension``) unless this backend already did."""
        if not self._ready:
            await self._create(dimension)
            await self.store.ensure_collection(DOCUMENT_SOURCES.name, dimension, DOCUMENT_SOURCES.keyword_fields)
            self._ready = True

    async def _create(self, dimension: int) -> None:
        await self.store.ensure_collection(DOCUMENTS.name, dimension, DOCUMENTS.keyword_fields)

    async def source(self, source: str) -> SourceInfo | None:
        """The current record of ``source``, or None when it is not stored."""
        records = await self.store.get(DOCUMENT_SOURCES.name, [source_id(source)])
        return source_from(records[0].payload) if records else None

    async def has_chunks(self) -> bool:
        """Whether any chunk is stored (searching an empty store need not embed the query)."""
        return await self.store.count(DOCUMENTS.name) > 0

    @abstractmethod
    async def sources(self) -> list[SourceInfo]:
        """Every source's current record (any order)."""

    async def write(self, info: SourceInfo, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]],
                    texts: Sequence[str], previous: SourceInfo | None) -> None:
        """Store a source's new version, then retire ``previous`` (its chunks of another hash)."""
        points = [Point(chunk_id(info.source, info.content_hash, c.index), v, chunk_payload(info, c))
                  for c, v in zip(chunks, vectors, strict=True)]
        for start in range(0, len(points), 256):
            await self.store.upsert(DOCUMENTS.name, points[start:start + 256])
        await self.store.upsert(DOCUMENT_SOURCES.name,
                                [Point(source_id(info.source), mean_vector(vectors), source_payload(info))])
        if previous is not None and previous.content_hash != info.content_hash:
            await self.store.delete(DOCUMENTS.name,
                                    where={"source": info.source, "content_hash": previous.content_hash})
        await self._written(info, chunks, texts, previous)

    async def _written(self, info: SourceInfo, chunks: Sequence[Chunk],  # noqa: B027 - a hook, empty by default
                       texts: Sequence[str], previous: SourceInfo | None) -> None:
        """Hook: after a write (the Qdrant backend updates its keyword index here)."""

    async def remove(self, info: SourceInfo) -> None:
        """Delete every chunk of the source (any version) and its record."""
        await self.store.delete(DOCUMENTS.name, where={"source": info.source})
        await self.store.delete(DOCUMENT_SOURCES.name, ids=[source_id(info.source)])
        await self._removed(info)

    async def _removed(self, info: SourceInfo) -> None:  # noqa: B027 - a hook, empty by default
        """Hook: after a remove."""

    @abstractmethod
    async def search(self, query: str, vector: list[float], limit: int, where: dict[str, Scalar],
                     mode: SearchMode) -> list[DocumentHit]:
        """The ``limit`` best chunks for the query, best first."""
