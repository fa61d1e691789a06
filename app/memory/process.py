"""The process's agent memory, built from settings (or None when ``MEMORY_ENABLED=false``)."""

from __future__ import annotations

import threading
from typing import Any

from app.memory.batching import BatchingEmbedder
from app.memory.store import AgentMemory
from app.vectors.registry import close_stores, get_store

_lock = threading.Lock()
_memories: dict[tuple[Any, ...], AgentMemory] = {}


def _embedder() -> BatchingEmbedder:
    from app.embeddings import get_embedder

    return BatchingEmbedder(get_embedder())


def default_memory(settings: Any) -> AgentMemory | None:
    """One memory per store location and tuning; nothing is opened or loaded until first use."""
    if not settings.memory_enabled:
        return None
    store = get_store(settings)
    key = (id(store), settings.memory_dedup_threshold, settings.memory_top_k, settings.memory_max_chars,
           settings.memory_timeout)
    with _lock:
        memory = _memories.get(key)
        if memory is None or memory.store is not store:
            memory = _memories[key] = AgentMemory(
                store, _embedder, dedup_threshold=settings.memory_dedup_threshold,
                recall_limit=settings.memory_top_k, recall_chars=settings.memory_max_chars,
                timeout=settings.memory_timeout)
        return memory


def reset_memory() -> None:
    """Forget the process's memories and close their stores (releasing folder locks)."""
    with _lock:
        _memories.clear()
    close_stores()
