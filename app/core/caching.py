"""What the manager needs of a response cache: a plan per call, looked up before and filled after.

The manager is handed a cache that fits these protocols (``app.cache.ResponseCache`` does) by the
composition root; without one, nothing is cached. Defined here so that the routing core does not
depend on the cache package, which depends on the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from app.core.results import ChatCompletion, ChatCompletionChunk, EmbeddingResponse, RoutingInfo
from app.core.routing import Chain

StreamSource = Callable[[Any], AsyncIterator[ChatCompletionChunk]]
"""Given the stream's sink (it receives ``routing`` when the stream ends), the chunks of one stream."""
HitReporter = Callable[[RoutingInfo, float], RoutingInfo]
"""Called with a cache hit's routing facts and the perf_counter time the lookup started; returns the facts
as the call reports them (with its route and complexity), which the stream then carries."""


class CompletionPlan(Protocol):
    """The cache's handling of one chat call: looked up before the call, filled after it."""

    async def lookup(self, trace_id: str) -> ChatCompletion | None:
        """The cached answer, its ``routing.cached`` set; None on a miss."""
        ...

    async def store(self, completion: ChatCompletion) -> None:
        """Keep a fresh answer for the next identical (or similar) request."""
        ...

    def streamed(self, source: StreamSource, trace_id: str, report_hit: HitReporter) -> StreamSource:
        """``source`` behind the cache: a hit replays as a stream, a finished stream is stored."""
        ...


class EmbeddingPlan(Protocol):
    """The cache's handling of one embeddings call: only the texts it misses are sent."""

    async def lookup(self) -> list[str]:
        """The distinct texts that still need embedding."""
        ...

    async def merge(self, result: EmbeddingResponse | None, trace_id: str, started: float) -> EmbeddingResponse:
        """The answer for every text: cached vectors plus ``result``'s for the missing texts."""
        ...


class ResponseCachePort(Protocol):
    """What the manager needs of a response cache (``app.cache.ResponseCache`` is one)."""

    def completion_plan(self, chain: Chain, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                        metadata: Mapping[str, Any] | None, *, cache: bool | None = None, refresh: bool = False,
                        semantic: bool | None = None) -> CompletionPlan | None:
        """The plan for one chat call, or None when it is not to be cached."""
        ...

    def embedding_plan(self, chain: Chain, texts: Sequence[str], metadata: Mapping[str, Any] | None, *,
                       cache: bool | None = None, refresh: bool = False) -> EmbeddingPlan | None:
        """The plan for one embeddings call, or None when it is not to be cached."""
        ...

    async def aclose(self) -> None:
        """Release the backend's connections."""
        ...
