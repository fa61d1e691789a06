"""Documents on Qdrant: dense search through our store, BM25 in process, fused by rank.

The keyword index (app.documents.keywords) is built from the ``documents`` collection on first
use and then kept in step with every add and delete this process makes. In local mode (the
embedded default) this process holds the folder's lock, so it sees every write and the index is
exact. On a Qdrant server other processes may write too: before each search the index compares
each source's current content hash with what it indexed and reloads the sources that changed.
Chunks of a version that is no longer current (a re-add interrupted between its steps) are left
out of both rankings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from app.core.keyed_locks import KeyedLocks
from app.documents.backends import (
    DOCUMENT_SOURCES,
    DOCUMENTS,
    DocumentBackend,
    SearchMode,
    chunk_id,
    chunk_payload,
    hit_from,
    source_from,
)
from app.documents.fusion import reciprocal_rank_fusion
from app.documents.keywords import KeywordIndex
from app.documents.models import Chunk, DocumentHit, Scalar, SourceInfo
from app.vectors.base import MAX_LIMIT, Record


def _searchable(payload: dict[str, Any]) -> str:
    return Chunk(0, payload["text"], payload.get("section") or "").searchable(payload.get("title") or None)


def _is_current(versions: dict[str, str], payload: dict[str, Any]) -> bool:
    """Whether a chunk belongs to its source's current version (``versions``: source -> content hash)."""
    return versions.get(payload.get("source", "")) == payload.get("content_hash")


def candidates(limit: int) -> int:
    """How deep each ranking goes before fusion: deep enough that a chunk ranked well by one method
    and modestly by the other still meets itself."""
    return min(MAX_LIMIT, max(50, limit * 5))


class QdrantDocuments(DocumentBackend):
    """Documents on Qdrant (local mode or a server): vector search by the store, BM25 by our index."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._keywords: KeywordIndex | None = None
        self._current: dict[str, str] = {}
        """source -> content hash of the version the keyword index holds."""
        self._lock = KeyedLocks()  # the backend may be used from more than one event loop
        self._shared = store.kind != "qdrant-local"  # a server, or a folder reached through the service

    async def _scan(self, collection: str, where: dict[str, Scalar] | None = None) -> list[Record]:
        """Every point of the collection matching ``where``, paged (the interface's scroll stops at 1,000)."""
        return await self.store.scan(collection, where)

    async def sources(self) -> list[SourceInfo]:
        """Every source's current record, read in pages of 1,000."""
        return [source_from(r.payload) for r in await self._scan(DOCUMENT_SOURCES.name)]

    async def has_chunks(self) -> bool:
        """Whether any chunk is stored; in local mode the loaded keyword index knows without asking."""
        if self._keywords is not None and not self._shared:
            return len(self._keywords) > 0
        return await super().has_chunks()

    async def _index(self) -> KeywordIndex:
        """The keyword index, loaded on first use and (on a server) brought up to date."""
        async with self._lock("keywords"):
            if self._keywords is None:
                current = {s.source: s.content_hash for s in await self.sources()}
                records = await self._scan(DOCUMENTS.name)  # one pass: local mode filters in Python
                index = KeywordIndex()
                await asyncio.to_thread(index.add, [
                    (r.id, _searchable(r.payload), r.payload) for r in records if _is_current(current, r.payload)])
                self._keywords, self._current = index, current
            elif self._shared:
                current = {s.source: s.content_hash for s in await self.sources()}
                for source in current.keys() | self._current.keys():
                    if current.get(source) != self._current.get(source):
                        await self._reload(self._keywords, source, current.get(source))
                self._current = current
            return self._keywords

    async def _reload(self, index: KeywordIndex, source: str, content_hash: str | None) -> None:
        await asyncio.to_thread(index.remove, index.ids_matching({"source": source}))
        if content_hash is not None:
            records = await self._scan(DOCUMENTS.name, {"source": source, "content_hash": content_hash})
            await asyncio.to_thread(index.add, ((r.id, _searchable(r.payload), r.payload) for r in records))

    async def _written(self, info: SourceInfo, chunks: Sequence[Chunk], texts: Sequence[str],
                       previous: SourceInfo | None) -> None:
        async with self._lock("keywords"):
            if self._keywords is None:
                return  # loaded from the store, this write included, on first search
            index = self._keywords
            if previous is not None:
                old = [chunk_id(previous.source, previous.content_hash, i) for i in range(previous.chunks)]
                await asyncio.to_thread(index.remove, old)
            await asyncio.to_thread(index.add, [
                (chunk_id(info.source, info.content_hash, c.index), text, chunk_payload(info, c))
                for c, text in zip(chunks, texts, strict=True)])
            self._current[info.source] = info.content_hash

    async def _removed(self, info: SourceInfo) -> None:
        async with self._lock("keywords"):
            if self._keywords is not None:
                index = self._keywords
                await asyncio.to_thread(index.remove, index.ids_matching({"source": info.source}))
                self._current.pop(info.source, None)

    async def search(self, query: str, vector: list[float], limit: int, where: dict[str, Scalar],
                     mode: SearchMode) -> list[DocumentHit]:
        """The best chunks of the current versions: by cosine, by BM25, or both fused by rank."""
        depth = limit if mode != "hybrid" else candidates(limit)
        index = await self._index()  # also refreshes which versions are current
        dense: list[tuple[str, float, dict[str, Any]]] = []
        sparse: list[tuple[str, float, dict[str, Any]]] = []
        if mode != "keyword":
            hits = await self.store.search(DOCUMENTS.name, vector, depth, where or None)
            dense = [(h.id, h.score, h.payload) for h in hits if _is_current(self._current, h.payload)]
        if mode != "vector":
            sparse = await asyncio.to_thread(index.search, query, depth, where)
        if mode == "vector":
            return [hit_from(payload, score) for _, score, payload in dense[:limit]]
        if mode == "keyword":
            return [hit_from(payload, score) for _, score, payload in sparse[:limit]]
        payloads = {item_id: payload for item_id, _, payload in (*dense, *sparse)}
        fused = reciprocal_rank_fusion([[i for i, _, _ in dense], [i for i, _, _ in sparse]], limit)
        return [hit_from(payloads[item_id], score) for item_id, score in fused]
