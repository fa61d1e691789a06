"""Mem0's ``Memory`` / ``AsyncMemory`` API over our vector stores and embedder, without an LLM.

    from app.memory import Memory

    m = Memory()
    m.add([{"role": "user", "content": "Hi, I'm Alex. I love basketball and gaming."},
           {"role": "assistant", "content": "Hey Alex! I'll remember your interests."}], user_id="alex")
    m.search("What do you know about me?", filters={"user_id": "alex"})   # {"results": [{id, memory, score...}]}
    m.get_all(filters={"user_id": "alex"});  m.get(memory_id);  m.update(memory_id, "new text")
    m.history(memory_id);  m.delete(memory_id);  m.delete_all(user_id="alex");  m.reset()

Method names, arguments and return shapes follow Mem0's open-source ``mem0/memory/main.py`` (2.x),
and the 1.x spellings still work (``search(query, user_id=..., limit=...)``). Where Mem0 asks an LLM
to extract facts from the messages, this engine stores each user message as a memory (and the
assistant's too when the call is scoped to an agent only), merging near-duplicates in the same
scope: see the README's list of differences. Memories live in the ``mem0_memory`` collection of the
process's vector store (``VECTOR_STORE``, Qdrant local by default); the history in SQLite at
``<SOPHIA_DATA_DIR>/mem0_history.db``.

``Memory()`` takes what it is not given from the process's runtime (``app.runtime.process_runtime()``:
its vector store, its embedder, its settings' data folder), so this module sits with the composition
root; code below it never imports it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.core.errors import InvalidRequestError
from app.core.keyed_locks import KeyedLocks
from app.core.sync_bridge import shared_bridge
from app.embeddings.base import Embedder
from app.memory.mem0_history import HistoryLog
from app.memory.store import DEFAULT_DEDUP_THRESHOLD, MAX_TEXT
from app.vectors.base import MAX_LIMIT, Point, VectorStore, check_id

log = logging.getLogger("app.memory")

MEM0_COLLECTION = "mem0_memory"
SCOPE_KEYS = ("user_id", "agent_id", "run_id")
PROMOTED_KEYS = (*SCOPE_KEYS, "actor_id", "role")
_CORE_KEYS = frozenset({"data", "hash", "created_at", "updated_at", *PROMOTED_KEYS})
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DEFAULT_TOP_K = 20
DEFAULT_THRESHOLD = 0.1


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _hash(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()  # the hash Mem0 stores


def _entity_id(value: Any, name: str) -> str | None:
    """Mem0's rules: numbers become strings; blank or whitespace-containing ids are refused."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or any(c.isspace() for c in text):
        raise InvalidRequestError(f"Invalid {name}: must be a non-empty identifier without whitespace")
    return text


def _scope(ids: Mapping[str, Any], filters: Mapping[str, Any] | None, method: str) -> dict[str, Any]:
    """The equality filter of a call: its user/agent/run ids (arguments or ``filters``) and metadata."""
    where: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if isinstance(value, Mapping) or key in ("AND", "OR", "NOT") or value == "*":
            raise InvalidRequestError(f"{method}(): only equality filters are supported, not {key!r}: {value!r}")
        if not isinstance(key, str) or not _FIELD.match(key):
            raise InvalidRequestError(f"{method}(): filter key {key!r} is not a valid field name")
        if not isinstance(value, str | int | float | bool):
            raise InvalidRequestError(f"{method}(): filter {key!r} must be a string, number or bool")
        where[key] = value
    for key in SCOPE_KEYS:  # an id given as an argument wins over the same id in filters
        if ids.get(key) is not None:
            where[key] = _entity_id(ids[key], key)
        elif key in where:
            where[key] = _entity_id(where[key], key)
    if not any(key in where for key in SCOPE_KEYS):
        raise InvalidRequestError(f"{method}(): at least one of 'user_id', 'agent_id' or 'run_id' must be given "
                                  "(as an argument or in filters)")
    return where


def _metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"metadata must be a mapping, got {type(metadata).__name__}")
    bad = [k for k in metadata if not isinstance(k, str) or not _FIELD.match(k)]
    if bad:
        raise InvalidRequestError(f"metadata keys {bad!r} must be identifiers (letters, digits, _)")
    # Scope comes from the ids, never from metadata (Mem0 drops these too); core fields are ours.
    return {k: v for k, v in metadata.items() if k not in _CORE_KEYS}


def _limit(limit: Any, top_k: Any) -> int:
    value = top_k if top_k is not None else limit if limit is not None else DEFAULT_TOP_K
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidRequestError(f"top_k/limit must be an integer from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def _messages(messages: Any) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if isinstance(messages, Mapping):
        return [dict(messages)]
    if isinstance(messages, list):
        return [dict(m) for m in messages if isinstance(m, Mapping)]
    raise InvalidRequestError(f"messages must be str, dict, or list[dict], got {type(messages).__name__}")


def item(point_id: str, payload: Mapping[str, Any], score: float | None = None, *,
         with_score: bool = True) -> dict[str, Any]:
    """A memory in Mem0's result shape (its ``MemoryItem`` plus the promoted scope keys)."""
    result: dict[str, Any] = {"id": point_id, "memory": payload.get("data", ""), "hash": payload.get("hash"),
                              "metadata": None, "score": score, "created_at": payload.get("created_at"),
                              "updated_at": payload.get("updated_at")}
    if not with_score:
        del result["score"]
    for key in PROMOTED_KEYS:
        if key in payload:
            result[key] = payload[key]
    extra = {k: v for k, v in payload.items() if k not in _CORE_KEYS}
    if extra:
        result["metadata"] = extra
    return result


class AsyncMemory:
    """Mem0's ``AsyncMemory``; ``Memory`` is its synchronous twin.

    ``store``, ``embedder`` and the history's folder default to the process runtime's (its
    ``VECTOR_STORE`` store, its embedder, ``SOPHIA_DATA_DIR``); the embedder loads its model on first use.
    """

    def __init__(self, *, store: VectorStore | None = None, embedder: Embedder | None = None,
                 history_db_path: str | None = None, collection: str = MEM0_COLLECTION,
                 dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD) -> None:
        """Mem0's defaults, taken from the process runtime for whatever is not given."""
        if store is None or embedder is None or history_db_path is None:
            from app.runtime import process_runtime  # at call time: the runtime imports app.memory's modules

            runtime = process_runtime()
            store = store if store is not None else runtime.vector_store
            embedder = embedder if embedder is not None else runtime.embedder
            history_db_path = history_db_path or os.path.join(runtime.settings.sophia_data_dir, "mem0_history.db")
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self.dedup_threshold = dedup_threshold
        self.db = HistoryLog(history_db_path)
        self._ready = False
        self._scope_lock = KeyedLocks()

    @classmethod
    def from_config(cls, config_dict: Mapping[str, Any]) -> AsyncMemory:
        """Mem0's config dict: ``history_db_path`` and ``vector_store.config.collection_name`` are used;
        the LLM, embedder and store provider settings are not (this engine has its own)."""
        vector = (config_dict.get("vector_store") or {}).get("config") or {}
        ignored = sorted(set(config_dict) - {"history_db_path", "vector_store"})
        ignored += [f"vector_store.config.{k}" for k in vector if k != "collection_name"]
        if ignored:
            log.warning("Memory.from_config: ignoring %s (the store and embedder come from our settings; "
                        "no LLM is used)", ", ".join(ignored))
        return cls(history_db_path=config_dict.get("history_db_path"),
                   collection=vector.get("collection_name", MEM0_COLLECTION))

    async def _ensure(self) -> None:
        if not self._ready:
            embedder = self.embedder
            dimension = embedder.dimension or len(await embedder.embed_one("dimension probe"))
            await self.store.ensure_collection(self.collection, dimension, SCOPE_KEYS)
            self._ready = True

    def _lock(self, where: Mapping[str, Any]) -> asyncio.Lock:
        return self._scope_lock("&".join(f"{k}={where[k]}" for k in SCOPE_KEYS if k in where))

    async def _history(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.db.add, *args, **kwargs)

    # --- add ---
    async def add(self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None,
                  run_id: str | None = None, metadata: dict[str, Any] | None = None, infer: bool = True,
                  memory_type: str | None = None, prompt: str | None = None, **unsupported: Any) -> dict[str, Any]:
        """Store memories from ``messages`` (a string, a message dict or a list of them).

        ``infer=True`` (Mem0's default, where Mem0 calls an LLM): each user message becomes a memory
        (plus assistant messages when only ``agent_id`` scopes the call); one that repeats a memory of
        the same scope is skipped, a near-duplicate (cosine >= ``dedup_threshold``) updates it.
        ``infer=False``: every non-system message is stored as it is, as Mem0 does.
        """
        if unsupported:
            raise InvalidRequestError(f"add(): {', '.join(sorted(unsupported))} not supported by this engine")
        if memory_type is not None or prompt is not None:
            raise InvalidRequestError("add(): procedural memories and prompts need an LLM, which this engine "
                                      "does not run")
        scope = _scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id}, None, "add")
        base = {**_metadata(metadata), **scope}
        agent_only = "agent_id" in scope and "user_id" not in scope
        wanted = ("user", "assistant") if (not infer or agent_only) else ("user",)
        chosen = []
        for message in _messages(messages):
            content, role = message.get("content"), message.get("role")
            if not isinstance(content, str) or not content.strip() or role not in wanted:
                continue
            if len(content) > MAX_TEXT:
                raise InvalidRequestError(f"a message is longer than {MAX_TEXT} characters")
            chosen.append((content.strip(), role, message.get("name")))
        if not chosen:
            return {"results": []}
        await self._ensure()
        vectors = await self.embedder.embed([text for text, _, _ in chosen])
        results = []
        async with self._lock(scope):
            for (text, role, name), vector in zip(chosen, vectors, strict=True):
                payload = {**base, "role": role, **({"actor_id": name} if name else {})}
                if infer:
                    outcome = await self._merge(text, vector, payload, scope)
                    if outcome is not None:
                        results.append(outcome)
                    continue
                memory_id = await self._create(text, vector, payload)
                results.append({"id": memory_id, "memory": text, "event": "ADD", "actor_id": name, "role": role})
        return {"results": results}

    async def _create(self, text: str, vector: list[float], payload: dict[str, Any]) -> str:
        memory_id = str(uuid.uuid4())
        now = _now()
        await self.store.upsert(self.collection, [Point(memory_id, vector, {
            **payload, "data": text, "hash": _hash(text), "created_at": now, "updated_at": now})])
        await self._history(memory_id, None, text, "ADD", created_at=now, updated_at=now,
                            actor_id=payload.get("actor_id"), role=payload.get("role"))
        return memory_id

    async def _merge(self, text: str, vector: list[float], payload: dict[str, Any],
                     scope: dict[str, Any]) -> dict[str, Any] | None:
        closest = await self.store.search(self.collection, vector, 1, scope)
        if closest and closest[0].payload.get("hash") == _hash(text):
            return None  # the same memory again: Mem0 skips hash duplicates too
        if closest and closest[0].score >= self.dedup_threshold:
            old = closest[0]
            await self._rewrite(old.id, old.payload, text, vector, {})
            return {"id": old.id, "memory": text, "event": "UPDATE", "previous_memory": old.payload.get("data")}
        return {"id": await self._create(text, vector, payload), "memory": text, "event": "ADD"}

    async def _rewrite(self, memory_id: str, old: Mapping[str, Any], text: str, vector: list[float],
                       metadata: Mapping[str, Any]) -> None:
        now = _now()
        payload = {**old, **metadata, "data": text, "hash": _hash(text), "updated_at": now}
        await self.store.upsert(self.collection, [Point(memory_id, vector, payload)])
        await self._history(memory_id, old.get("data"), text, "UPDATE", created_at=old.get("created_at"),
                            updated_at=now, actor_id=old.get("actor_id"), role=old.get("role"))

    # --- read ---
    async def search(self, query: str, *, user_id: str | None = None, agent_id: str | None = None,
                     run_id: str | None = None, filters: dict[str, Any] | None = None, limit: int | None = None,
                     top_k: int | None = None, threshold: float | None = DEFAULT_THRESHOLD,
                     rerank: bool = False) -> dict[str, Any]:
        """The scope's memories most similar to ``query`` (cosine similarity as ``score``), best first."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidRequestError("Invalid query: must be a non-empty string")
        if threshold is not None and (isinstance(threshold, bool) or not 0 <= threshold <= 1):
            raise InvalidRequestError(f"Invalid threshold: {threshold!r}; it must be between 0 and 1")
        where = _scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id}, filters, "search")
        count = _limit(limit, top_k)
        await self._ensure()
        hits = await self.store.search(self.collection, await self.embedder.embed_one(query.strip()), count, where)
        return {"results": [item(h.id, h.payload, h.score) for h in hits
                            if threshold is None or h.score >= threshold]}

    async def get_all(self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
                      filters: dict[str, Any] | None = None, limit: int | None = None,
                      top_k: int | None = None) -> dict[str, Any]:
        """The scope's memories, oldest first (up to ``top_k``, default 20 as in Mem0)."""
        where = _scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id}, filters, "get_all")
        count = _limit(limit, top_k)
        await self._ensure()
        records = await self.store.scroll(self.collection, where, MAX_LIMIT)
        records.sort(key=lambda r: (r.payload.get("created_at") or "", r.id))
        return {"results": [item(r.id, r.payload, with_score=False) for r in records[:count]]}

    async def get(self, memory_id: str) -> dict[str, Any] | None:
        """One memory by id, or None."""
        memory_id = check_id(memory_id)
        await self._ensure()
        records = await self.store.get(self.collection, [memory_id])
        return item(records[0].id, records[0].payload) if records else None

    async def history(self, memory_id: str) -> list[dict[str, Any]]:
        """The memory's ADD / UPDATE / DELETE events, oldest first (also after a delete)."""
        return await asyncio.to_thread(self.db.get, check_id(memory_id))

    # --- change ---
    async def update(self, memory_id: str, text: str | None = None, metadata: dict[str, Any] | None = None, *,
                     data: str | None = None) -> dict[str, str]:
        """Replace a memory's text (``data`` is Mem0's older name for ``text``) and/or merge metadata."""
        text = text if text is not None else data
        if text is None and metadata is None:
            raise InvalidRequestError("At least one of text or metadata must be provided.")
        if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT):
            raise InvalidRequestError(f"text must be a non-empty string of at most {MAX_TEXT} characters")
        extra = _metadata(metadata)
        memory_id = check_id(memory_id)
        await self._ensure()
        records = await self.store.get(self.collection, [memory_id])
        if not records:
            raise InvalidRequestError(f"Memory with id {memory_id} not found. Please provide a valid 'memory_id'")
        old = records[0].payload
        new_text = text.strip() if text is not None else old.get("data", "")
        await self._rewrite(memory_id, old, new_text, await self.embedder.embed_one(new_text), extra)
        return {"message": "Memory updated successfully!"}

    async def delete(self, memory_id: str) -> dict[str, str]:
        """Delete one memory (its history keeps a DELETE event); ``ValueError`` for an unknown id."""
        memory_id = check_id(memory_id)
        await self._ensure()
        records = await self.store.get(self.collection, [memory_id])
        if not records:
            raise InvalidRequestError(f"Memory with id {memory_id} not found")
        await self._remove(records[0].id, records[0].payload)
        return {"message": "Memory deleted successfully!"}

    async def _remove(self, memory_id: str, payload: Mapping[str, Any]) -> None:
        await self.store.delete(self.collection, ids=[memory_id])
        await self._history(memory_id, payload.get("data"), None, "DELETE", created_at=payload.get("created_at"),
                            updated_at=_now(), actor_id=payload.get("actor_id"), role=payload.get("role"))

    async def delete_all(self, user_id: str | None = None, agent_id: str | None = None,
                         run_id: str | None = None) -> dict[str, str]:
        """Delete every memory of the scope (at least one id is required; ``reset()`` deletes all)."""
        where = _scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id}, None, "delete_all")
        await self._ensure()
        while records := await self.store.scroll(self.collection, where, MAX_LIMIT):
            for record in records:
                await self._remove(record.id, record.payload)
        return {"message": "Memories deleted successfully!"}

    async def reset(self) -> None:
        """Delete every memory of the collection and the whole history."""
        await self.store.drop_collection(self.collection)
        self._ready = False
        await asyncio.to_thread(self.db.reset)

    def close(self) -> None:
        """Release the history database (the vector store is the process's and stays open)."""
        self.db.close()


class Memory:
    """Mem0's synchronous ``Memory``: every method runs its ``AsyncMemory`` twin on the sync bridge."""

    def __init__(self, **options: Any) -> None:
        """The options of ``AsyncMemory``."""
        self._async = AsyncMemory(**options)

    @classmethod
    def from_config(cls, config_dict: Mapping[str, Any]) -> Memory:
        """Mem0's config dict, as ``AsyncMemory.from_config`` reads it."""
        memory = cls.__new__(cls)
        memory._async = AsyncMemory.from_config(config_dict)
        return memory

    def _run(self, coro: Any) -> Any:
        return shared_bridge().run(coro)

    def add(self, messages: Any, **kwargs: Any) -> dict[str, Any]:
        """``AsyncMemory.add``: store memories from ``messages`` in a user/agent/run scope."""
        return self._run(self._async.add(messages, **kwargs))

    def search(self, query: str, **kwargs: Any) -> dict[str, Any]:
        """``AsyncMemory.search``: the scope's memories closest to ``query``."""
        return self._run(self._async.search(query, **kwargs))

    def get_all(self, **kwargs: Any) -> dict[str, Any]:
        """``AsyncMemory.get_all``: the scope's memories, oldest first."""
        return self._run(self._async.get_all(**kwargs))

    def get(self, memory_id: str) -> dict[str, Any] | None:
        """``AsyncMemory.get``: one memory by id, or None."""
        return self._run(self._async.get(memory_id))

    def update(self, memory_id: str, text: str | None = None, metadata: dict[str, Any] | None = None, *,
               data: str | None = None) -> dict[str, str]:
        """``AsyncMemory.update``: replace a memory's text and/or merge metadata."""
        return self._run(self._async.update(memory_id, text, metadata, data=data))

    def delete(self, memory_id: str) -> dict[str, str]:
        """``AsyncMemory.delete``: delete one memory."""
        return self._run(self._async.delete(memory_id))

    def delete_all(self, user_id: str | None = None, agent_id: str | None = None,
                   run_id: str | None = None) -> dict[str, str]:
        """``AsyncMemory.delete_all``: delete every memory of the scope."""
        return self._run(self._async.delete_all(user_id, agent_id, run_id))

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        """``AsyncMemory.history``: the memory's events, oldest first."""
        return self._run(self._async.history(memory_id))

    def reset(self) -> None:
        """``AsyncMemory.reset``: delete every memory and the whole history."""
        self._run(self._async.reset())

    def close(self) -> None:
        """Release the history database."""
        self._async.close()
