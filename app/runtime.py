"""The composition root: the one place where the routing layer's parts are built and wired together.

    runtime = build_runtime(settings)       # transport -> cache (with the embedder) -> manager,
                                            # memory (same embedder), health checker (store probes)
    runtime.manager.create_completion(...)

Everything below takes its collaborators as arguments; only this module (and the service's lifespan,
which calls ``build_runtime``) decides which ones. The Python API's ``get_portkey_manager()`` and the
factories' getters use ``process_runtime()``: one runtime per process, built on first use from the
environment and ``.env``, or from settings installed with ``use_settings``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from app.cache import ResponseCache
from app.core.manager import PortkeyManager
from app.core.settings import Settings, get_settings
from app.core.transport import Transport
from app.embeddings import Embedder, build_embedder
from app.health import HealthChecker
from app.memory import AgentMemory, BatchingEmbedder
from app.resilience import breakers_from_settings, limits_from_settings
from app.vectors.probes import store_probes
from app.vectors.registry import get_store


class _Factory(Protocol):
    def __init__(self, manager: PortkeyManager, *, memory: AgentMemory | None = None,
                 health: HealthChecker | None = None) -> None: ...


F = TypeVar("F", bound=_Factory)


@dataclass
class Runtime:
    """The parts one process (or one service instance) runs on."""

    settings: Settings
    manager: PortkeyManager
    embedder: Embedder
    """One embedding model per runtime: the semantic cache and agent memory share it."""
    memory: AgentMemory | None
    """None when ``MEMORY_ENABLED=false``."""
    health: HealthChecker

    def factory(self, cls: type[F]) -> F:
        """An agent factory of ``cls`` on this runtime's manager, memory and health checker."""
        return cls(self.manager, memory=self.memory, health=self.health)

    async def aclose(self) -> None:
        """Close the manager's connections (stores stay open: they are shared per location)."""
        await self.manager.aclose()


def _manager_and_embedder(settings: Settings, transport: Transport | None,
                          embedder: Embedder | None) -> tuple[PortkeyManager, Embedder]:
    cache = ResponseCache.from_settings(settings)
    manager = PortkeyManager(settings, transport=transport, cache=cache, circuits=breakers_from_settings(settings),
                             limits=limits_from_settings(settings))
    # The one late binding: with EMBEDDINGS=gateway the embedder calls this very manager, so its calls
    # are seen by the same observers (telemetry, analytics) instead of by a second, hidden manager.
    cache.embedder = embedder if embedder is not None else build_embedder(settings, manager)
    return manager, cache.embedder


def build_manager(settings: Settings | None = None, *, transport: Transport | None = None,
                  embedder: Embedder | None = None) -> PortkeyManager:
    """A manager with the cache the settings call for, its semantic part using ``embedder``
    (default: the one ``EMBEDDINGS`` names)."""
    return _manager_and_embedder(settings if settings is not None else get_settings(), transport, embedder)[0]


def build_runtime(settings: Settings | None = None, *, transport: Transport | None = None,
                  embedder: Embedder | None = None) -> Runtime:
    """Every part, built once and wired: see the module docstring."""
    settings = settings if settings is not None else get_settings()
    manager, shared = _manager_and_embedder(settings, transport, embedder)
    memory = None
    if settings.memory_enabled:
        memory = AgentMemory(get_store(settings), BatchingEmbedder(shared),
                             dedup_threshold=settings.memory_dedup_threshold, recall_limit=settings.memory_top_k,
                             recall_chars=settings.memory_max_chars, timeout=settings.memory_timeout)
    return Runtime(settings=settings, manager=manager, embedder=shared, memory=memory,
                   health=HealthChecker(manager, store_probes(settings), circuits=manager.circuits))


_lock = threading.Lock()
_runtime: Runtime | None = None
_settings: Settings | None = None


def process_runtime() -> Runtime:
    """The process's runtime, built on first use."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = build_runtime(_settings)
    return _runtime


def use_settings(settings: Settings | None) -> None:
    """Rebuild the process's runtime from ``settings`` on next use (None: the environment and ``.env``)."""
    global _runtime, _settings
    with _lock:
        _runtime = None
        _settings = settings
        get_settings.cache_clear()


class FactorySlot(Generic[F]):
    """Holds a process's agent factory of one kind, rebuilt when the process's runtime is replaced."""

    def __init__(self, cls: type[F]) -> None:
        self._cls = cls
        self._built: tuple[Runtime, F] | None = None
        self._lock = threading.Lock()

    def get(self) -> F:
        """The factory on the process's runtime (its manager, memory and health checker)."""
        runtime = process_runtime()
        with self._lock:
            if self._built is None or self._built[0] is not runtime:
                factory = runtime.factory(self._cls)
                self._built = (runtime, factory)
            return self._built[1]


__all__ = ["FactorySlot", "Runtime", "build_manager", "build_runtime", "process_runtime", "use_settings"]
