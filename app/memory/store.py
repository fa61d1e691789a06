"""Long-term agent memory on the vector-store interface (our own small layer, no mem0ai).

    memory = AgentMemory(store, embedder)
    await memory.add(agent_id, "The team deploys on Fridays", domain="artemis", role="code_reviewer")
    hits = await memory.search(agent_id, "when do we deploy?", limit=5)

Near-duplicates are merged: before storing, the agent's closest memory is looked up, and when its
cosine similarity reaches ``dedup_threshold`` (default 0.92) that memory is refreshed (newer text,
``times_seen`` + 1, ``updated_at`` now) instead of a second one being stored. At 0.92 rewordings of
one fact merge ("The user prefers Python for scripts." / "the user prefers python for scripts"),
while a changed fact stays separate ("prefers Python" / "prefers Go": 0.70 with MiniLM; measured
rewordings: 0.94-0.98).
Point ids are uuid5 over the agent and the normalised text, so exact repeats land on the same point.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from app.core.errors import InvalidRequestError
from app.core.outage import Outage
from app.embeddings.base import Embedder
from app.memory.models import AddResult, MemoryRecord, utcnow
from app.vectors.base import Point, VectorStore, check_id, check_limit
from app.vectors.collections import AGENT_MEMORY

log = logging.getLogger("app.memory")

RETRY_AFTER = 30.0
"""Seconds memory is skipped after a failure, so a hanging store does not slow every call by the timeout."""
_MEMORY_NAMESPACE = uuid.UUID("0b6f3c8e-5b1d-4f57-9d0e-8f2a6c1e4d21")
MAX_TEXT = 4000
DEFAULT_DEDUP_THRESHOLD = 0.92


def memory_id(agent_id: str, text: str) -> str:
    """The id of an agent's memory: a uuid5 of the agent and the text (case and spacing ignored)."""
    normalised = " ".join(text.lower().split())
    return str(uuid.uuid5(_MEMORY_NAMESPACE, f"{agent_id}\x1f{normalised}"))


def _text(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidRequestError(f"{what} is longer than {max_len} characters")
    return value


class AgentMemory:
    """Add, search, list and forget an agent's memories in ``agent_memory``.

    ``embedder`` may be a callable returning one, so the model is chosen (and loaded) on first use.
    ``recall_limit``, ``recall_chars``, ``recall_min_score`` and ``timeout`` bound what agents take
    into a prompt and how long they wait for memory (see ``app.memory.guard``).
    """

    def __init__(self, store: VectorStore, embedder: Embedder | Callable[[], Embedder], *,
                 collection: str = AGENT_MEMORY.name, dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD,
                 recall_limit: int = 5, recall_chars: int = 2000, recall_min_score: float = 0.3,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < dedup_threshold <= 1:
            raise InvalidRequestError(f"dedup_threshold must be in (0, 1], got {dedup_threshold!r}")
        self.store = store
        self._embedder = embedder
        self.collection = collection
        self.dedup_threshold = dedup_threshold
        self.recall_limit = recall_limit
        self.recall_chars = recall_chars
        self.recall_min_score = recall_min_score
        self.timeout = timeout
        self.outage = Outage("agent memory", RETRY_AFTER, log, consequence="continuing without it", clock=clock)
        """Down while the store or embedder is failing (agents then go on without memory)."""
        self._warm = False
        self._ensured: set[str] = set()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    @property
    def degraded(self) -> bool:
        """True while the store or embedder is failing."""
        return self.outage.down

    @property
    def embedder(self) -> Embedder:
        """The embedder, built on first use when a factory was given."""
        if not isinstance(self._embedder, Embedder):
            self._embedder = self._embedder()
        return self._embedder

    async def warm_up(self) -> None:
        """Load the embedder once (the local model takes seconds on first use in a process)."""
        if not self._warm:
            await self.embed("warm-up")
            self._warm = True

    async def embed(self, text: str) -> list[float]:
        """The vector of one text."""
        return (await self.embedder.embed([text]))[0]

    async def ensure(self, collection: str, dimension: int, keyword_fields: tuple[str, ...] = ()) -> None:
        """Create ``collection`` in the store unless this memory already ensured it."""
        if collection not in self._ensured:
            await self.store.ensure_collection(collection, dimension, keyword_fields)
            self._ensured.add(collection)

    async def _ready(self, vector: list[float]) -> None:
        await self.ensure(self.collection, len(vector), AGENT_MEMORY.keyword_fields)

    def _agent_lock(self, agent_id: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        locks = self._locks.get(loop)
        if locks is None:
            locks = self._locks[loop] = {}
        return locks.setdefault(agent_id, asyncio.Lock())

    async def add(self, agent_id: str, text: str, *, domain: str, role: str, source: str = "manual") -> AddResult:
        """Remember ``text`` for the agent, merging it into a near-duplicate when there is one."""
        agent_id = _text(agent_id, "agent_id", 200)
        text = _text(text, "memory text", MAX_TEXT)
        domain, role, source = _text(domain, "domain", 100), _text(role, "role", 100), _text(source, "source", 100)
        vector = await self.embed(text)
        await self._ready(vector)
        # One add per agent at a time, so two concurrent near-duplicates cannot both miss each other.
        async with self._agent_lock(agent_id):
            now = utcnow()
            closest = await self.store.search(self.collection, vector, 1, {"agent_id": agent_id})
            if closest and closest[0].score >= self.dedup_threshold:
                old = MemoryRecord.from_payload(closest[0].id, closest[0].payload)
                memory = old.model_copy(update={"text": text, "domain": domain, "role": role, "source": source,
                                                "updated_at": now, "times_seen": old.times_seen + 1})
                merged = True
            else:
                memory = MemoryRecord(id=memory_id(agent_id, text), agent_id=agent_id, domain=domain, role=role,
                                text=text, source=source, created_at=now, updated_at=now)
                merged = False
            await self.store.upsert(self.collection, [Point(memory.id, vector, memory.payload())])
        return AddResult(memory=memory, merged=merged)

    async def _search(self, query: str, limit: int, where: dict[str, str], min_score: float) -> list[MemoryRecord]:
        query = _text(query, "query", MAX_TEXT * 10)
        limit = check_limit(limit)
        vector = await self.embed(query)
        await self._ready(vector)
        hits = await self.store.search(self.collection, vector, limit, where)
        return [MemoryRecord.from_payload(h.id, h.payload, h.score) for h in hits if h.score >= min_score]

    async def search(self, agent_id: str, query: str, limit: int = 5, min_score: float = 0.0) -> list[MemoryRecord]:
        """The agent's memories closest to ``query``, most similar first."""
        return await self._search(query, limit, {"agent_id": _text(agent_id, "agent_id", 200)}, min_score)

    async def search_domain(self, domain: str, query: str, limit: int = 5, role: str | None = None,
                            min_score: float = 0.0) -> list[MemoryRecord]:
        """Memories of every agent of a domain (optionally one role) closest to ``query``."""
        where = {"domain": _text(domain, "domain", 100)}
        if role is not None:
            where["role"] = _text(role, "role", 100)
        return await self._search(query, limit, where, min_score)

    async def _ensure_own(self) -> None:
        if self.collection not in self._ensured:
            dimension = self.embedder.dimension or len(await self.embed("dimension probe"))
            await self.ensure(self.collection, dimension, AGENT_MEMORY.keyword_fields)

    async def list_memories(self, agent_id: str, limit: int = 100) -> list[MemoryRecord]:
        """The agent's memories, most recently updated first."""
        agent_id = _text(agent_id, "agent_id", 200)
        await self._ensure_own()
        records = await self.store.scroll(self.collection, {"agent_id": agent_id}, check_limit(limit))
        memories = [MemoryRecord.from_payload(r.id, r.payload) for r in records]
        return sorted(memories, key=lambda m: m.updated_at, reverse=True)

    async def count(self, agent_id: str | None = None) -> int:
        """How many memories the agent has (every agent's, for None)."""
        await self._ensure_own()
        where = {"agent_id": _text(agent_id, "agent_id", 200)} if agent_id is not None else None
        return await self.store.count(self.collection, where)

    async def forget(self, agent_id: str, memory_id: str) -> bool:
        """Delete one of the agent's memories; False when it has no memory of that id."""
        agent_id = _text(agent_id, "agent_id", 200)
        memory_id = check_id(memory_id)
        await self._ensure_own()
        records = await self.store.get(self.collection, [memory_id])
        if not records or records[0].payload.get("agent_id") != agent_id:
            return False
        await self.store.delete(self.collection, ids=[memory_id])
        return True

    async def forget_all(self, agent_id: str) -> int:
        """Delete every memory of the agent; returns how many there were."""
        agent_id = _text(agent_id, "agent_id", 200)
        await self._ensure_own()
        where = {"agent_id": agent_id}
        count = await self.store.count(self.collection, where)
        if count:
            await self.store.delete(self.collection, where=where)
        return count
