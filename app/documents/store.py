"""The document store: add text and files, search them (hybrid), list and delete sources.

    store = get_document_store()
    await store.add_file("handbook/refunds.md", metadata={"team": "finance"})
    await store.add_text("Deploys freeze on Fridays.", source="notes/deploys")
    hits = await store.search("can I get my money back?", limit=5, filters={"team": "finance"})
    await store.delete("notes/deploys");  await store.sources()

A source is added as one unit: parsed, chunked, embedded, then written (see app.documents.backends
for the order that keeps a re-add from ever leaving the source empty). Its content hash covers the
content, the format, the metadata, the chunking and the embedder, so adding an unchanged source
again costs one lookup, and a change to any of those rewrites it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.errors import InvalidRequestError
from app.core.keyed_locks import KeyedLocks
from app.documents.backends import DocumentBackend, SearchMode, where_for
from app.documents.chunking import ChunkingOptions, chunk_document
from app.documents.inputs import check_filters, check_metadata, check_query, check_source
from app.documents.models import AddResult, DocumentHit, Format, SourceInfo
from app.documents.parsing import SUFFIXES, format_for, parse
from app.embeddings.base import Embedder

Progress = Callable[[int, int], None]
"""Called as ``progress(chunks_embedded, chunks_total)`` while a source is embedded."""

HASH_VERSION = "documents-v1"
MAX_BYTES = 50_000_000
EMBED_BATCH = 64


class DocumentStore:
    """Sources (files or text) split into chunks, embedded with ``embedder`` and searched on ``backend``.

    The composition root builds one per runtime (``app.documents.choice.build_document_store``).
    """

    def __init__(self, backend: DocumentBackend, embedder: Embedder, *,
                 chunking: ChunkingOptions | None = None, max_bytes: int = MAX_BYTES) -> None:
        """``embedder`` loads its model on first use; ``max_bytes`` bounds one source's content."""
        self.backend = backend
        self.embedder = embedder
        self.chunking = chunking or ChunkingOptions()
        self.max_bytes = max_bytes
        self._source_lock = KeyedLocks()

    async def _ready(self) -> None:
        embedder = self.embedder
        await self.backend.ensure(embedder.dimension or len(await embedder.embed_one("dimension probe")))

    def _content_hash(self, content: bytes, fmt: Format, metadata: Mapping[str, Any]) -> str:
        digest = hashlib.sha256()
        head = [HASH_VERSION, self.embedder.name, self.chunking.signature, fmt,
                json.dumps(metadata, sort_keys=True, separators=(",", ":"))]
        digest.update("\x1f".join(head).encode() + b"\x1e")
        digest.update(content)
        return digest.hexdigest()

    async def add_text(self, text: str, source: str, metadata: Mapping[str, Any] | None = None, *,
                       format: Format | None = None, progress: Progress | None = None) -> AddResult:
        """Add (or replace) ``source`` with ``text``: plain text, Markdown or HTML.

        ``format`` defaults to what the source's suffix implies (``.md``, ``.html``), else plain text.
        """
        source = check_source(source)
        meta = check_metadata(metadata)
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("text must be a non-empty string")
        implied = format_for(source)
        fmt = format or (implied if implied in ("markdown", "html") else "text")
        if fmt not in ("text", "markdown", "html"):
            raise InvalidRequestError(f"add_text takes text, markdown or html, not {fmt!r} (add PDFs as files)")
        content = text.encode()
        if len(content) > self.max_bytes:
            raise InvalidRequestError(f"text is {len(content)} bytes; the limit is {self.max_bytes}")
        return await self._add(source, content, fmt, meta, progress)

    async def add_file(self, path: str | os.PathLike[str], *, source: str | None = None,
                       metadata: Mapping[str, Any] | None = None, progress: Progress | None = None) -> AddResult:
        """Add (or replace) a text, Markdown, HTML or PDF file; ``source`` defaults to the path as given."""
        file = Path(path)
        source = check_source(source if source is not None else file.as_posix())
        meta = check_metadata(metadata)
        fmt = format_for(file.name)
        if fmt is None:
            raise InvalidRequestError(f"{file.name}: unsupported file type; supported: {', '.join(SUFFIXES)}")
        if not file.is_file():
            raise InvalidRequestError(f"{file}: no such file")
        size = file.stat().st_size
        if size > self.max_bytes:
            raise InvalidRequestError(f"{file} is {size} bytes; the limit is {self.max_bytes}")
        content = await asyncio.to_thread(file.read_bytes)
        return await self._add(source, content, fmt, meta, progress)

    async def add_bytes(self, data: bytes, source: str, metadata: Mapping[str, Any] | None = None, *,
                        format: Format | None = None, progress: Progress | None = None) -> AddResult:
        """Add (or replace) ``source`` from a file's bytes (an upload); ``format`` defaults to the
        source's suffix."""
        source = check_source(source)
        meta = check_metadata(metadata)
        fmt = format or format_for(source)
        if fmt is None or fmt not in SUFFIXES.values():
            raise InvalidRequestError(f"unknown format {fmt!r} for {source}; name a suffix or format: "
                                      f"{', '.join(SUFFIXES)}")
        if not isinstance(data, bytes) or not data.strip():
            raise InvalidRequestError("the document is empty")
        if len(data) > self.max_bytes:
            raise InvalidRequestError(f"the document is {len(data)} bytes; the limit is {self.max_bytes}")
        return await self._add(source, data, fmt, meta, progress)

    async def _add(self, source: str, content: bytes, fmt: Format, metadata: dict[str, Any],
                   progress: Progress | None) -> AddResult:
        await self._ready()
        content_hash = self._content_hash(content, fmt, metadata)
        async with self._source_lock(source):
            previous = await self.backend.source(source)
            if previous is not None and previous.content_hash == content_hash:
                return AddResult(source, "unchanged", previous.chunks, content_hash)
            parsed = await asyncio.to_thread(parse, content, fmt, source)
            chunks = chunk_document(parsed, self.chunking)
            if not chunks:
                raise InvalidRequestError(f"{source} has no text to index")
            texts = [c.searchable(parsed.title) for c in chunks]
            vectors: list[list[float]] = []
            if progress:
                progress(0, len(chunks))
            for start in range(0, len(texts), EMBED_BATCH):
                vectors.extend(await self.embedder.embed(texts[start:start + EMBED_BATCH]))
                if progress:
                    progress(len(vectors), len(chunks))
            info = SourceInfo(source=source, chunks=len(chunks), format=fmt, title=parsed.title,
                              content_hash=content_hash, added_at=datetime.now(UTC).isoformat(), metadata=metadata)
            await self.backend.write(info, chunks, vectors, texts, previous)
        return AddResult(source, "added" if previous is None else "replaced", len(chunks), content_hash)

    async def search(self, query: str, limit: int = 5, filters: Mapping[str, Any] | None = None, *,
                     mode: SearchMode = "hybrid") -> list[DocumentHit]:
        """The ``limit`` chunks that best answer ``query``, best first.

        ``filters`` are equalities on metadata keys (and ``source`` / ``format``), all of which must
        hold. ``mode`` is ``hybrid`` (vectors and BM25 fused by rank), ``vector`` or ``keyword``.
        """
        query, limit, mode = check_query(query, limit, mode)
        where = where_for(check_filters(filters))
        await self._ready()
        if not await self.backend.has_chunks():
            return []  # nothing to find: no query embedding (no model load, no provider call)
        vector = [] if mode == "keyword" else await self.embedder.embed_one(query)
        return await self.backend.search(query, vector, limit, where, mode)

    async def delete(self, source: str) -> int:
        """Remove every chunk of ``source``; returns how many it had (0: no such source)."""
        source = check_source(source)
        await self._ready()
        async with self._source_lock(source):
            info = await self.backend.source(source)
            if info is None:
                return 0
            await self.backend.remove(info)
            return info.chunks

    async def sources(self) -> list[SourceInfo]:
        """Every source, sorted by name."""
        await self._ready()
        return sorted(await self.backend.sources(), key=lambda s: s.source)

    async def stats(self) -> dict[str, Any]:
        """What a dashboard shows: sources, chunks, the last add, and where they live."""
        sources = await self.sources()
        return {"sources": len(sources), "chunks": sum(s.chunks for s in sources),
                "last_added_at": max((s.added_at for s in sources), default=None),
                "backend": self.backend.kind, "location": self.backend.location}

    async def health(self) -> tuple[bool, str]:
        """(True, what was checked) or (False, why not), as the health check's store probes answer."""
        try:
            stats = await self.stats()
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            from app.core.redaction import describe_error

            return False, describe_error(exc)
        return True, (f"{stats['backend']} at {stats['location']}: {stats['sources']} source(s), "
                      f"{stats['chunks']} chunk(s)")

