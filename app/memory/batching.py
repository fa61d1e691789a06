"""Concurrent embed calls share one model call.

Two hundred agents starting at once each ask for one vector; run one by one that is two hundred
model calls, batched it is a handful. Calls made while a batch is running join the next batch.
State is kept per event loop, because futures belong to one loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.embeddings.base import Embedder


@dataclass
class _Queue:
    pending: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


class BatchingEmbedder(Embedder):
    """``inner`` behind a queue: concurrent ``embed`` calls share model calls of up to ``max_batch`` texts."""

    def __init__(self, inner: Embedder, max_batch: int = 256) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()

    @property
    def name(self) -> str:
        """The inner embedder's name (batching does not change the vectors)."""
        return self.inner.name

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension, which it may learn on first use."""
        return self.inner.dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of ``texts``, from the next batch; a failed batch fails each of its callers."""
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[list[list[float]]] = loop.create_future()
        queue.pending.append((list(texts), future))
        if queue.flusher is None or queue.flusher.done():
            queue.flusher = loop.create_task(self._flush(queue))
        return await future

    async def _flush(self, queue: _Queue) -> None:
        while queue.pending:
            batch: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = []
            size = 0
            while queue.pending and (not batch or size + len(queue.pending[0][0]) <= self.max_batch):
                texts, future = queue.pending.pop(0)
                batch.append((texts, future))
                size += len(texts)
            try:
                vectors = await self.inner.embed([t for texts, _ in batch for t in texts])
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for texts, future in batch:
                if not future.done():
                    future.set_result(vectors[start:start + len(texts)])
                start += len(texts)
