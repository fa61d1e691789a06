"""The cache in front of the gateway: exact entries, the semantic index and embeddings, per call.

The manager asks for a plan per call (None when the call is not to be cached), looks the plan up
before any network traffic and stores the answer once it is complete. Nothing here raises into a
request: a failing backend or embedder means a miss.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.cache import metrics
from app.cache.backends import CacheBackend, Clock, MemoryBackend
from app.cache.entries import (
    assemble,
    pack_completion,
    pack_vector,
    replay,
    unpack_completion,
    unpack_vector,
)
from app.cache.keys import UncacheableRequest, cache_key, chat_request_hash, digest, embedding_hash, owner
from app.cache.literals import literals, normalise
from app.core.caching import HitReporter, StreamSource
from app.core.outage import Outage
from app.core.results import (
    CacheStatus,
    ChatCompletion,
    ChatCompletionChunk,
    Embedding,
    EmbeddingResponse,
    RoutingInfo,
    Usage,
)

if TYPE_CHECKING:
    import numpy as np

    from app.cache.semantic import SemanticIndex
    from app.embeddings.base import Embedder

log = logging.getLogger("app.cache")



@dataclass(frozen=True, slots=True)
class SemanticPolicy:
    """Which calls use the semantic cache, and how similar a prompt must be to count as a hit."""

    everywhere: bool = False
    roles: frozenset[str] = frozenset()
    """Role keys ``domain/role`` whose calls use the semantic cache."""
    threshold: float = 0.95

    def wanted(self, domain: str, role: str, per_call: bool | None) -> bool:
        """Whether a call of ``domain/role`` uses the semantic cache; ``per_call`` (if not None) decides."""
        if per_call is not None:
            return per_call
        return self.everywhere or f"{domain}/{role}" in self.roles


@dataclass(frozen=True, slots=True)
class SemanticQuestion:
    """A prompt as the semantic index compares it: the scope it must share, and the text to embed."""

    scope: str
    text: str


def semantic_question(domain: str, role: str, chain: Sequence[tuple[str, str]],
                      messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                      embedder: str) -> SemanticQuestion | None:
    """The question to match, or None when the conversation does not qualify.

    Only single-turn conversations qualify (one user message, optionally after one system
    message): in a longer one the same last question means something else after other turns.
    """
    *head, last = messages
    if last.get("role") != "user" or not isinstance(last.get("content"), str) or len(head) > 1:
        return None
    system = None
    if head:
        if head[0].get("role") not in ("system", "developer") or not isinstance(head[0].get("content"), str):
            return None
        system = head[0]["content"]
    text = last["content"]
    scope = digest({"domain": domain, "role": role, "chain": [list(t) for t in chain], "system": system,
                    "params": {k: v for k, v in params.items() if k not in ("stream", "stream_options")},
                    "literals": literals(text), "embedder": embedder})
    return SemanticQuestion(scope, normalise(text))


class ResponseCache:
    """Plans the caching of each chat and embeddings call; shared by every call of a manager."""

    def __init__(self, backend: CacheBackend, *, ttl: float, policy: SemanticPolicy = SemanticPolicy(),
                 max_entries: int = 10_000, embedder: Embedder | None = None, clock: Clock = time.monotonic) -> None:
        """``embedder`` serves the semantic cache (without one, semantic lookups are misses)."""
        self.backend = backend
        self.ttl = ttl
        self.policy = policy
        self._max_entries = max_entries
        self._clock = clock
        self._index: SemanticIndex | None = None
        self.embedder = embedder
        self.embedder_outage = Outage("semantic cache embedder", 30.0, log,
                                      consequence="the semantic cache is off until it works")

    @classmethod
    def from_settings(cls, settings: Any, embedder: Embedder | None = None) -> ResponseCache:
        """The cache the settings call for: Redis when ``REDIS_URL`` is set, else the embedded one."""
        backend: CacheBackend
        if settings.redis_url:
            from app.cache.redis_backend import RedisBackend

            backend = RedisBackend(settings.redis_url)
        else:
            backend = MemoryBackend(settings.cache_max_entries)
        policy = SemanticPolicy(settings.semantic_cache, frozenset(settings.semantic_cache_roles),
                                settings.semantic_cache_threshold)
        return cls(backend, ttl=settings.cache_ttl, policy=policy, max_entries=settings.cache_max_entries,
                   embedder=embedder)

    @property
    def enabled(self) -> bool:
        """False when ``CACHE_TTL`` is 0: no call is then cached."""
        return self.ttl > 0

    @property
    def index(self) -> SemanticIndex:
        # numpy loads only once a semantic lookup happens: the manager's import path stays light.
        """The semantic index, made on first use."""
        if self._index is None:
            from app.cache.semantic import SemanticIndex

            self._index = SemanticIndex(self._max_entries, self._clock)
        return self._index

    # ----- plans ----------------------------------------------------------------------------------

    def completion_plan(self, chain: Any, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                        metadata: Mapping[str, Any] | None, *, cache: bool | None = None, refresh: bool = False,
                        semantic: bool | None = None) -> CompletionPlan | None:
        """The plan for one chat call; None when caching is off for it or its parameters cannot be keyed."""
        if cache is False or not self.enabled:
            return None
        domain, agent = owner(metadata)
        targets = chain.cache_identity(metadata)
        try:
            key = cache_key(domain, agent, chat_request_hash(targets, messages, params))
            question = None
            role = str((metadata or {}).get("role") or "-")
            embedder = self._embedder_name() if self.policy.wanted(domain, role, semantic) else None
            if embedder is not None:
                question = semantic_question(domain, role, targets, messages, params, embedder)
        except UncacheableRequest:
            return None
        return CompletionPlan(self, key, domain, refresh, question)

    def embedding_plan(self, chain: Any, texts: Sequence[str], metadata: Mapping[str, Any] | None, *,
                       cache: bool | None = None, refresh: bool = False) -> EmbeddingPlan | None:
        """The plan for one embeddings call (keyed by the chain's primary target); None: not cached."""
        if cache is False or not self.enabled:
            return None
        domain, _ = owner(metadata)
        return EmbeddingPlan(self, chain.primary.provider.name, chain.primary.model, list(texts), domain, refresh)

    # ----- semantic -------------------------------------------------------------------------------

    def _embedder_name(self) -> str | None:
        """Part of the semantic scope (vectors of two models are not comparable); None: no embedder."""
        if self.embedder is None:
            return None
        try:
            return str(self.embedder.name)
        except Exception as exc:  # noqa: BLE001 - no embedder means no semantic cache, not a failed call
            self._embedder_failed(exc)
            return None

    async def embed(self, text: str) -> np.ndarray | None:
        """The vector of ``text`` for the semantic index; None without an embedder or while it fails."""
        import numpy as np

        if self.embedder is None or self.embedder_outage.paused:
            return None
        try:
            vector = np.asarray(await self.embedder.embed_one(text), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the semantic cache degrades; the request goes on
            self._embedder_failed(exc)
            return None
        self.embedder_outage.succeeded()
        return vector

    def _embedder_failed(self, exc: Exception) -> None:
        metrics.BACKEND_ERRORS.labels("embedder", "embed").inc()
        self.embedder_outage.failed(f"{type(exc).__name__}: {str(exc)[:200]}")

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self.backend.aclose()


def _hit_routing(origin: Mapping[str, Any], completion: ChatCompletion, status: CacheStatus, trace_id: str,
                 latency_ms: float) -> RoutingInfo:
    return RoutingInfo(provider=origin["provider"], model=origin["model"], fallback_used=False, attempts=[],
                       latency_ms=latency_ms, usage=completion.usage or Usage(), trace_id=trace_id,
                       served_index=origin.get("served_index", 0), cached=status, variant=origin.get("variant"))


@dataclass
class CompletionPlan:
    """One chat call's cache entry: its exact key and, for semantic calls, the question to match."""

    cache: ResponseCache
    key: str
    domain: str
    refresh: bool
    question: SemanticQuestion | None
    vector: np.ndarray | None = None

    async def lookup(self, trace_id: str) -> ChatCompletion | None:
        """The cached answer with its routing facts (``cached`` set), or None on a miss."""
        if self.refresh:
            return None
        started = time.perf_counter()
        backend = self.cache.backend
        raw = await backend.get(self.key)
        metrics.LOOKUP_SECONDS.labels(backend.name, "chat").observe(time.perf_counter() - started)
        status: CacheStatus = "hit"
        if raw is None and self.question is not None:
            raw = await self._semantic_lookup()
            status = "semantic_hit"
            metrics.LOOKUP_SECONDS.labels(backend.name, "semantic").observe(time.perf_counter() - started)
        found = unpack_completion(raw) if raw is not None else None
        if found is None:
            metrics.MISSES.labels(self.domain, "chat").inc()
            log.debug("cache miss %s (%s)", self.key, backend.name)
            return None
        completion, origin = found
        (metrics.SEMANTIC_HITS.labels(self.domain) if status == "semantic_hit"
         else metrics.HITS.labels(self.domain, "chat")).inc()
        log.debug("cache %s %s (%s)", "semantic hit" if status == "semantic_hit" else "hit", self.key,
                  backend.name)
        completion.routing = _hit_routing(origin, completion, status, trace_id,
                                          (time.perf_counter() - started) * 1000)
        return completion

    async def _semantic_lookup(self) -> bytes | None:
        assert self.question is not None
        self.vector = await self.cache.embed(self.question.text)
        if self.vector is None:
            return None
        best = self.cache.index.search(self.question.scope, self.vector)
        if best is None or best[1] < self.cache.policy.threshold:
            return None
        raw = await self.cache.backend.get(best[0])
        if raw is None:  # expired or evicted in the backend
            self.cache.index.discard(self.question.scope, best[0])
        return raw

    async def store(self, completion: ChatCompletion) -> None:
        """Keep the answer for ``ttl`` seconds, and index its prompt for semantic calls."""
        if completion.routing is None or not completion.choices:
            return
        await self.cache.backend.set(self.key, pack_completion(completion, completion.routing), self.cache.ttl)
        if self.question is not None:
            if self.vector is None:
                self.vector = await self.cache.embed(self.question.text)
            if self.vector is not None:
                self.cache.index.add(self.question.scope, self.vector, self.key, self.cache.ttl)

    def streamed(self, source: StreamSource, trace_id: str, report_hit: HitReporter) -> StreamSource:
        """``source`` behind the cache: a hit replays, a stream that finishes is stored whole."""

        async def run(sink: Any) -> AsyncIterator[ChatCompletionChunk]:
            started = time.perf_counter()
            hit = await self.lookup(trace_id)
            if hit is not None:
                for chunk in replay(hit):
                    yield chunk
                sink.routing = report_hit(hit.routing, started)
                return
            chunks: list[ChatCompletionChunk] = []
            async for chunk in source(sink):
                chunks.append(chunk)
                yield chunk
            # Only reached when the stream finished: an error or an early close never gets here.
            completion = assemble(chunks, sink.routing.usage if sink.routing else None)
            if completion is not None:
                completion.routing = sink.routing
                await self.store(completion)

        return run


@dataclass
class EmbeddingPlan:
    """One embeddings call's entries: one per distinct text, shared across agents and domains."""

    cache: ResponseCache
    provider: str
    model: str
    texts: list[str]
    domain: str
    refresh: bool
    found: dict[str, list[float]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def _key(self, text: str) -> str:
        # Embeddings are the same whoever asks, so they are shared across agents and domains.
        return cache_key("core", "-", embedding_hash(self.provider, self.model, text))

    async def lookup(self) -> list[str]:
        """The distinct texts that still need embedding, in order."""
        unique = list(dict.fromkeys(self.texts))
        if not self.refresh:
            started = time.perf_counter()
            backend = self.cache.backend
            values = await backend.get_many([self._key(t) for t in unique])
            metrics.LOOKUP_SECONDS.labels(backend.name, "embedding").observe(time.perf_counter() - started)
            for text, raw in zip(unique, values, strict=True):
                vector = unpack_vector(raw) if raw is not None else None
                if vector is not None:
                    self.found[text] = vector
        self.missing = [t for t in unique if t not in self.found]
        metrics.HITS.labels(self.domain, "embedding").inc(len(self.found))
        metrics.MISSES.labels(self.domain, "embedding").inc(len(self.missing))
        return self.missing

    async def merge(self, result: EmbeddingResponse | None, trace_id: str, started: float) -> EmbeddingResponse:
        """The answer for every text: cached vectors plus those of ``result`` (for the missing texts)."""
        vectors = dict(self.found)
        if result is not None:
            fresh = dict(zip(self.missing, result.vectors, strict=True))
            vectors.update(fresh)
            await self.cache.backend.set_many({self._key(t): pack_vector(v) for t, v in fresh.items()},
                                              self.cache.ttl)
        data = [Embedding(index=i, embedding=vectors[t]) for i, t in enumerate(self.texts)]
        if result is not None and result.routing is not None:
            return EmbeddingResponse(data=data, model=result.model, usage=result.usage, routing=result.routing)
        routing = RoutingInfo(provider=self.provider, model=self.model, fallback_used=False, attempts=[],
                              latency_ms=(time.perf_counter() - started) * 1000, trace_id=trace_id, cached="hit")
        response = EmbeddingResponse(data=data, model=self.model, usage=Usage())
        response.routing = routing
        return response
