"""The composition root: the one place where the routing layer's parts are built and wired together.

    runtime = build_runtime(settings)       # transport -> cache (with the embedder) -> routing policy
                                            # -> manager, memory (same embedder), health checker
    runtime.manager.create_completion(...)
    runtime.documents                       # the document store (same embedder), built on first use
    runtime.factory(SophiaFactory)          # a factory on the manager, memory, document grounding, health

Everything below takes its collaborators as arguments; only this module (and the service's lifespan,
which calls ``build_runtime``) decides which ones. The Python API's ``get_portkey_manager()`` and the
factories' getters use ``process_runtime()``: one runtime per process, built on first use from the
environment and ``.env``, or from settings installed with ``use_settings``.

Settings from the environment find the local service ``make run`` started (its runtime file in
``SOPHIA_DATA_DIR``, see ``app.core.local_service``): when no provider is configured, the process
uses that service's gateway and simulators, and says so (SANDBOX). A real key always wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from app.agents.grounding import DocumentGrounding
from app.cache import ResponseCache
from app.core.keys import resolve_credential
from app.core.local_service import LocalService, as_settings, find_local_service, sandbox_notice
from app.core.manager import PortkeyManager
from app.core.providers import PROVIDERS
from app.core.settings import Settings, get_settings, load_settings
from app.core.transport import Transport
from app.embeddings import Embedder, build_embedder
from app.health import HealthChecker
from app.memory.batching import BatchingEmbedder
from app.memory.store import AgentMemory
from app.resilience import breakers_from_settings, limits_from_settings
from app.routing import PolicyHolder
from app.vectors.base import VectorStore
from app.vectors.probes import store_probes
from app.vectors.registry import get_store

if TYPE_CHECKING:
    from app.documents.store import DocumentStore

T = TypeVar("T")
log = logging.getLogger("app.runtime")


class _Factory(Protocol):
    def __init__(self, manager: PortkeyManager, *, memory: AgentMemory | None = None,
                 grounding: DocumentGrounding | None = None, health: HealthChecker | None = None) -> None: ...


F = TypeVar("F", bound=_Factory)


class _Once(Generic[T]):
    """A part built on first use, once, whichever thread asks first."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: tuple[T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = (self._build(),)
            return self._value[0]


def _build_documents(settings: Settings, embedder: Embedder) -> DocumentStore:
    # Imported here: the document store loads numpy and the parsers, which a runtime that never
    # touches documents should not pay for (the runtime is built on the first get_portkey_manager()).
    from app.documents.choice import build_document_store

    return build_document_store(settings, embedder)


@dataclass(frozen=True)
class EnvironmentSettings:
    """Settings read from the environment and ``.env``, and what the local service added to them."""

    settings: Settings
    sandboxed: tuple[str, ...]
    """Providers the local service's simulators answer for (empty: its sandbox is not used)."""
    local_service: LocalService | None

    @property
    def notice(self) -> str | None:
        """The one-line SANDBOX notice when the local service's simulators stand in; None otherwise."""
        if not self.sandboxed or self.local_service is None:
            return None
        return sandbox_notice(self.local_service, self.sandboxed)


@dataclass
class Runtime:
    """The parts one process (or one service instance) runs on."""

    settings: Settings
    manager: PortkeyManager
    embedder: Embedder
    """One embedding model per runtime: the semantic cache, agent memory and documents share it."""
    vector_store: VectorStore
    """The store ``VECTOR_STORE`` names: agent memory's, and the default of Mem0's ``Memory()``."""
    memory: AgentMemory | None
    """None when ``MEMORY_ENABLED=false``."""
    health: HealthChecker
    _documents: _Once[DocumentStore] = field(repr=False)
    _grounding: _Once[DocumentGrounding | None] = field(init=False, repr=False)
    environment: EnvironmentSettings | None = None
    """Where the settings came from, when from the environment (None: handed in)."""

    def __post_init__(self) -> None:
        self._grounding = _Once(self._build_grounding)

    @property
    def documents(self) -> DocumentStore:
        """The document store (Weaviate when ``WEAVIATE_URL`` is set, else Qdrant), built on first use."""
        return self._documents.get()

    @property
    def grounding(self) -> DocumentGrounding | None:
        """What grounded roles retrieve from ``documents``; None when ``DOCUMENTS_TOP_K=0``."""
        return self._grounding.get()

    def _build_grounding(self) -> DocumentGrounding | None:
        settings = self.settings
        if settings.documents_top_k <= 0:
            return None
        return DocumentGrounding(self.documents, top_k=settings.documents_top_k,
                                 max_chars=settings.documents_max_chars, timeout=settings.documents_timeout)

    @property
    def sandbox_notice(self) -> str | None:
        """The SANDBOX notice to show when this runtime uses the local service's simulators."""
        return self.environment.notice if self.environment is not None else None

    def factory(self, cls: type[F]) -> F:
        """An agent factory of ``cls`` on this runtime's manager, memory, grounding and health checker."""
        return cls(self.manager, memory=self.memory, grounding=self.grounding, health=self.health)

    async def aclose(self) -> None:
        """Close the manager's connections (stores stay open: they are shared per location)."""
        await self.manager.aclose()


def _manager_and_embedder(settings: Settings, transport: Transport | None,
                          embedder: Embedder | None) -> tuple[PortkeyManager, Embedder]:
    cache = ResponseCache.from_settings(settings)
    # The routing policy (built-in roles + SOPHIA_ROUTING_FILE + ROLE_CHAINS): a bad file stops the start here.
    manager = PortkeyManager(settings, transport=transport, cache=cache, circuits=breakers_from_settings(settings),
                             limits=limits_from_settings(settings), policies=PolicyHolder(settings))
    # The one late binding: with EMBEDDINGS=gateway the embedder calls this very manager, so its calls
    # are seen by the same observers (telemetry, analytics) instead of by a second, hidden manager.
    cache.embedder = embedder if embedder is not None else build_embedder(settings, manager)
    return manager, cache.embedder


def _any_provider_configured(settings: Settings) -> bool:
    return any(resolve_credential(settings.provider(p), hosted=settings.hosted).configured
               for p in PROVIDERS.values())


def environment_settings() -> EnvironmentSettings:
    """The environment's and ``.env``'s settings; pointed at the local service's sandbox when no
    provider is configured (no key, no hosted Portkey key) and ``make run``'s service runs one."""
    settings = get_settings()
    service = find_local_service(settings.sophia_data_dir)
    if service is None or service.sandbox is None or settings.hosted or _any_provider_configured(settings):
        return EnvironmentSettings(settings, (), service)
    # As in the service: a simulated fault should not back off 7 s, unless MAX_RETRIES says otherwise.
    retries = {} if "max_retries" in settings.model_fields_set else {"max_retries": 1}
    sandboxed = load_settings(**as_settings(service.sandbox.env), **retries)
    return EnvironmentSettings(sandboxed, tuple(service.sandbox.simulators), service)


def build_manager(settings: Settings | None = None, *, transport: Transport | None = None,
                  embedder: Embedder | None = None) -> PortkeyManager:
    """A manager with the cache the settings call for, its semantic part using ``embedder``
    (default: the one ``EMBEDDINGS`` names); ``settings`` default to ``environment_settings()``'s."""
    settings = settings if settings is not None else environment_settings().settings
    return _manager_and_embedder(settings, transport, embedder)[0]


def build_runtime(settings: Settings | None = None, *, transport: Transport | None = None,
                  embedder: Embedder | None = None) -> Runtime:
    """Every part, built once and wired: see the module docstring. ``settings`` default to
    ``environment_settings()``'s (the local service's sandbox when no provider is configured)."""
    found = None
    if settings is None:
        found = environment_settings()
        settings = found.settings
    manager, shared = _manager_and_embedder(settings, transport, embedder)
    vector_store = get_store(settings)
    memory = None
    if settings.memory_enabled:
        memory = AgentMemory(vector_store, BatchingEmbedder(shared),
                             dedup_threshold=settings.memory_dedup_threshold, recall_limit=settings.memory_top_k,
                             recall_chars=settings.memory_max_chars, timeout=settings.memory_timeout)
    documents = _Once(lambda: _build_documents(settings, shared))

    async def documents_probe() -> tuple[bool, str]:
        return await documents.get().health()

    probes = {**store_probes(settings), "documents": documents_probe}
    return Runtime(settings=settings, manager=manager, embedder=shared, vector_store=vector_store,
                   memory=memory, health=HealthChecker(manager, probes),
                   _documents=documents, environment=found)


_lock = threading.Lock()
_runtime: Runtime | None = None
_settings: Settings | None = None


def process_runtime() -> Runtime:
    """The process's runtime, built on first use (a SANDBOX notice is logged when it uses the local
    service's simulators)."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = build_runtime(_settings)
                if _runtime.sandbox_notice:
                    log.warning("%s", _runtime.sandbox_notice)
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
        """The factory on the process's runtime (its manager, memory, grounding and health checker)."""
        runtime = process_runtime()
        with self._lock:
            if self._built is None or self._built[0] is not runtime:
                factory = runtime.factory(self._cls)
                self._built = (runtime, factory)
            return self._built[1]


__all__ = ["EnvironmentSettings", "FactorySlot", "Runtime", "build_manager", "build_runtime", "environment_settings",
           "process_runtime", "use_settings"]
