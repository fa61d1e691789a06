"""PortkeyManager: the one entry for every LLM call (chat, streams, embeddings).

A call's chain (primary target, then fallbacks) is compiled into one Portkey config and sent with
the request, so the gateway fails over within one round trip; what the gateway cannot fail over is
finished by the failover loop (``app.core.failover``) on the remaining targets. The manager checks
input, builds the chain, asks the cache it was given, and reports every call to observers once.
It is built by a composition root (``app.runtime.build_manager``), which hands it its transport and
cache; constructed bare, it has its own transport and no cache.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Literal, overload

from pydantic import SecretStr

from app.core.admission import LimitPort
from app.core.caching import ResponseCachePort, StreamSource
from app.core.circuits import CircuitPort
from app.core.deadlines import Deadlines
from app.core.embedding_batches import EMBEDDING_BATCH, embed_in_batches, waves
from app.core.errors import InvalidRequestError, ProviderNotConfiguredError, StreamClosedError
from app.core.failover import Call, fail_over
from app.core.observation import CallRecord, FeedbackRecord, Observers
from app.core.prompt_cache import mark_prompt_cache
from app.core.providers import PROVIDERS
from app.core.redaction import describe_error
from app.core.results import (
    ChatCompletion,
    ChatCompletionChunk,
    EmbeddingResponse,
    RoutingInfo,
    summarize_attempts,
)
from app.core.rounds import GatewayRounds
from app.core.routing import Capability, Chain, Router
from app.core.settings import Settings, get_settings
from app.core.strategy import first_choices
from app.core.streaming import CompletionStream, SyncCompletionStream
from app.core.sync_bridge import shared_bridge
from app.core.transport import GatewayTransport, Transport
from app.core.validation import (
    check_embedding_input,
    check_messages,
    check_metadata,
    check_params,
    check_target_names,
)
from app.routing import PolicyHolder, RoutePlan
from app.routing import plan as plan_request
from app.routing.complexity import probability_complex
from app.routing.policy import role_key

# Routing decisions at DEBUG (the spec's Debug Mode): chains, attempts, fallbacks, cache hits. Never keys:
# only provider and model names, statuses, and error texts that were already scrubbed.
log = logging.getLogger("app.routing")


def new_trace_id() -> str:
    """A fresh trace id (32 hex characters), sent as ``x-portkey-trace-id``."""
    return uuid.uuid4().hex


MessagesHook = Callable[[list[dict[str, Any]]], Awaitable[Sequence[Mapping[str, Any]]]]
"""Turns the caller's messages into those sent (e.g. an agent adding recalled memories)."""


def gateway_transport(settings: Settings) -> GatewayTransport:
    """The transport the settings call for (hosted Portkey's key goes in every request's headers)."""
    # Non-strict mode keeps provider extras such as Perplexity's citations in the answers.
    headers = {"content-type": "application/json", "x-portkey-strict-open-ai-compliance": "false"}
    if settings.hosted and settings.portkey_api_key is not None:
        headers["x-portkey-api-key"] = settings.portkey_api_key.get_secret_value()
    return GatewayTransport(settings.gateway_url, timeout=settings.request_timeout, headers=headers)


class PortkeyManager:
    """Chat completions (plain and streamed) and embeddings along provider chains, through the gateway."""

    def __init__(self, settings: Settings | None = None, *, transport: Transport | None = None,
                 cache: ResponseCachePort | None = None, circuits: CircuitPort | None = None,
                 limits: LimitPort | None = None, policies: PolicyHolder | None = None) -> None:
        """``policies``: the routing policy's holder (default: one loaded from the settings, which
        reads the built-in roles, ``SOPHIA_ROUTING_FILE`` and ``ROLE_CHAINS``; raises on a bad file)."""
        self.settings = settings if settings is not None else get_settings()
        self.router = Router(self.settings)
        self.policies = policies if policies is not None else PolicyHolder(self.settings)
        self.observers: Observers[CallRecord] = Observers()
        self.feedback_observers: Observers[FeedbackRecord] = Observers()
        self.transport = transport if transport is not None else gateway_transport(self.settings)
        self.cache = cache
        self.circuits = circuits
        self.limits = limits
        self.rounds = GatewayRounds(self.transport, self.router, secrets=_secrets(self.settings))
        self._bridge = shared_bridge()
        self._deadlines = Deadlines.from_timeout(self.settings.request_timeout)

    def use_settings(self, settings: Settings) -> None:
        """Route calls that start from now on with ``settings`` (rotated keys), without a restart.

        A call in flight keeps the chain it was built with (each target carries its credential, and
        its Portkey config is compiled from the chain), so it finishes on the old key; the old key's
        secret stays on the redaction list. The transport is kept: a new ``PORTKEY_API_KEY`` needs a restart.
        """
        router = Router(settings)
        self.rounds.secrets.extend(s for s in _secrets(settings) if s not in self.rounds.secrets)
        # One reference swap each, with no await in between: no call sees a half-switched manager.
        self.settings, self.router, self.rounds.router = settings, router, router

    def deadlines(self, metadata: Mapping[str, str] | None = None) -> Deadlines:
        """Each attempt's deadlines for a call: from REQUEST_TIMEOUT, or its role's (``ROLE_DEADLINES``)."""
        if metadata and "domain" in metadata and "role" in metadata:
            override = self.settings.role_deadlines.get(role_key(metadata["domain"], metadata["role"]))
            if override:
                return self._deadlines.overridden(override)
        return self._deadlines

    def _call(self, kind: str, chain: Chain, trace_id: str | None, metadata: Mapping[str, str] | None,
              planned: RoutePlan | None = None, rounds: int = 1) -> Call:
        """``rounds``: requests the call sends one after another (embedding batches in waves), each
        allowed the bound of one request through the chain."""
        deadlines = self.deadlines(metadata)
        return Call(kind, chain, trace_id or new_trace_id(), metadata, deadlines=deadlines,
                    bound=rounds * deadlines.call_bound(len(chain.targets), self.settings.max_retries),
                    route=planned.route if planned else None, complexity=planned.complexity if planned else None)

    @property
    def gateway_url(self) -> str:
        """The gateway every request goes to."""
        return self.transport.base_url

    # ----- chains -------------------------------------------------------------------------------

    def chain(
        self,
        provider: Any = None,
        model: str | None = None,
        fallbacks: Sequence[Any] | None = None,
        capability: Capability = Capability.CHAT,
    ) -> Chain:
        """The targets a call would use, in order; raises before any network call if none is usable."""
        check_target_names(provider, model, fallbacks)
        if provider is None:
            provider = self.default_provider(capability)
        return self.router.build(self.router.requested(provider, model, fallbacks), capability)

    def _chain_for(self, provider: Any, model: str | None, fallbacks: Sequence[Any] | None, route: str | None,
                   role: str | None, messages: Sequence[Mapping[str, Any]], metadata: Mapping[str, str] | None,
                   params: Mapping[str, Any]) -> tuple[Chain, RoutePlan | None]:
        """The chain of a call: by provider and fallbacks, or planned on a route's or role's strategy."""
        if route is None and role is None:
            return self.chain(provider, model, fallbacks), None
        if route is not None and role is not None:
            raise InvalidRequestError("give route= or role=, not both")
        if provider is not None or model is not None or fallbacks is not None:
            raise InvalidRequestError(f"{'route' if route is not None else 'role'}= chooses the targets from the "
                                      "routing file: leave provider, model and fallbacks unset")
        policy = self.policies.current
        strategy = policy.route(route).strategy if route is not None else policy.role(str(role)).strategy
        planned = plan_request(strategy, route, messages, metadata, params, probability_complex,
                               self.settings.sophia_complexity_threshold)
        requested = planned.requested if self.settings.enable_fallback else first_choices(planned.requested)
        return self.router.build_tree(requested), planned

    def default_provider(self, capability: Capability = Capability.CHAT) -> str:
        """The first configured provider (that has embeddings, for that capability)."""
        configured = self.router.configured_providers(capability)
        if configured:
            return configured[0]
        candidates = [n for n, p in PROVIDERS.items() if capability is Capability.CHAT or p.supports_embeddings]
        env_vars = [v for n in candidates for v in self.router.resolutions[n].env_vars]
        raise ProviderNotConfiguredError(candidates, env_vars)

    # ----- chat ---------------------------------------------------------------------------------

    @overload
    async def acreate_completion(
        self, provider: Any = None, model: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
        *, route: str | None = None, role: str | None = None, fallbacks: Sequence[Any] | None = None,
        stream: Literal[False] = False, trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None, cache: bool | None = None, refresh: bool = False,
        semantic_cache: bool | None = None, prepare_messages: MessagesHook | None = None, **params: Any,
    ) -> ChatCompletion: ...

    @overload
    async def acreate_completion(
        self, provider: Any = None, model: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
        *, route: str | None = None, role: str | None = None, fallbacks: Sequence[Any] | None = None,
        stream: Literal[True], trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None, cache: bool | None = None, refresh: bool = False,
        semantic_cache: bool | None = None, prepare_messages: MessagesHook | None = None, **params: Any,
    ) -> CompletionStream: ...

    @overload
    async def acreate_completion(
        self, provider: Any = None, model: str | None = None, messages: Sequence[Mapping[str, Any]] | None = None,
        *, route: str | None = None, role: str | None = None, fallbacks: Sequence[Any] | None = None,
        stream: bool, trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None, cache: bool | None = None, refresh: bool = False,
        semantic_cache: bool | None = None, prepare_messages: MessagesHook | None = None, **params: Any,
    ) -> ChatCompletion | CompletionStream: ...

    async def acreate_completion(
        self,
        provider: Any = None,
        model: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        *,
        route: str | None = None,
        role: str | None = None,
        fallbacks: Sequence[Any] | None = None,
        stream: bool = False,
        trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache: bool | None = None,
        refresh: bool = False,
        semantic_cache: bool | None = None,
        prepare_messages: MessagesHook | None = None,
        **params: Any,
    ) -> ChatCompletion | CompletionStream:
        """Chat completion through the gateway. ``stream=True`` returns a CompletionStream.

        ``route="<name>"`` (a route of the routing file) or ``role="<domain>/<role>"`` choose the
        targets by that strategy instead of ``provider``/``model``/``fallbacks``; ``metadata`` is
        what the strategy's rules and sticky keys read. ``cache=False`` skips the response cache for
        this call; ``refresh=True`` ignores a cached answer and stores the new one;
        ``semantic_cache`` turns the semantic cache on or off for this call (None: as the settings
        say for the call's role). ``prepare_messages``, when given,
        runs on a cache miss just before sending and returns the messages to send: the cache keys on
        the caller's ``messages``, so an agent that adds its recalled memories finds its earlier answers.
        """
        checked = check_messages(messages)
        check_params(params)
        check_metadata(metadata)
        chain, planned = self._chain_for(provider, model, fallbacks, route, role, checked, metadata, params)
        if planned is not None and planned.metadata:
            metadata = {**(metadata or {}), **planned.metadata}
        if self.limits is not None:
            await self.limits.admit(metadata)
        call = self._call("chat_stream" if stream else "chat", chain, trace_id, metadata, planned)
        _log_chain(call)
        body = {"model": chain.primary.model, "messages": checked, **params}
        plan = None if self.cache is None else self.cache.completion_plan(
            chain, checked, params, metadata, cache=cache, refresh=refresh, semantic=semantic_cache)
        if stream:
            body["stream"] = True
            body.setdefault("stream_options", {"include_usage": True})

            def stream_source(sink: Any) -> AsyncIterator[ChatCompletionChunk]:
                return self._stream(call, body, sink, prepare_messages)

            source: StreamSource = stream_source
            if plan is not None:
                source = plan.streamed(source, call.trace_id,
                                       lambda routing, started: self._report_hit(call, routing, started))
            return CompletionStream(source)
        started = time.perf_counter()
        if plan is not None and (hit := await plan.lookup(call.trace_id)) is not None:
            hit.routing = self._report_hit(call, hit.routing, started)
            return hit
        completion = await self._complete(call, body, prepare_messages)
        if plan is not None:
            await plan.store(completion)
        return completion

    @overload
    def create_completion(self, provider: Any = None, model: str | None = None,
                          messages: Sequence[Mapping[str, Any]] | None = None, *, stream: Literal[False] = False,
                          **kwargs: Any) -> ChatCompletion: ...

    @overload
    def create_completion(self, provider: Any = None, model: str | None = None,
                          messages: Sequence[Mapping[str, Any]] | None = None, *, stream: Literal[True],
                          **kwargs: Any) -> SyncCompletionStream: ...

    def create_completion(self, provider: Any = None, model: str | None = None,
                          messages: Sequence[Mapping[str, Any]] | None = None, *, stream: bool = False,
                          **kwargs: Any) -> ChatCompletion | SyncCompletionStream:
        """Sync twin of :meth:`acreate_completion`; with ``stream=True`` returns an iterator of chunks."""
        result = self._bridge.run(self.acreate_completion(provider, model, messages, stream=stream, **kwargs))
        if isinstance(result, CompletionStream):
            return SyncCompletionStream(result, self._bridge)
        return result

    async def _complete(self, call: Call, body: dict[str, Any], prepare: MessagesHook | None = None
                        ) -> ChatCompletion:
        try:
            await _prepare(body, prepare, call.chain)
            async with aclosing(fail_over(call, lambda remaining: self.rounds.chat(call, body, remaining),
                                          self.circuits)) as answers:
                completion = await anext(answers)
        except Exception as exc:
            self._report(call, error=exc)
            raise
        self._report(call, routing=completion.routing)
        await self._account(call, completion.routing)
        return completion

    async def _stream(self, call: Call, body: dict[str, Any], sink: CompletionStream,
                      prepare: MessagesHook | None = None) -> AsyncGenerator[ChatCompletionChunk, None]:
        call.started = time.perf_counter()  # the stream's clock starts when the caller starts reading
        try:
            await _prepare(body, prepare, call.chain)
            async with aclosing(fail_over(call, lambda remaining: self.rounds.stream(call, body, remaining),
                                          self.circuits)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except GeneratorExit:
            # The caller stopped reading: the call still happened, so it is still reported once.
            self._report(call, error=StreamClosedError())
            raise
        except Exception as exc:
            self._report(call, error=exc)
            raise
        sink.routing = call.served
        self._report(call, routing=call.served)
        await self._account(call, call.served)

    # ----- embeddings ---------------------------------------------------------------------------

    async def acreate_embedding(
        self,
        input: str | Sequence[str],
        provider: Any = None,
        model: str | None = None,
        *,
        batch_size: int = EMBEDDING_BATCH,
        trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache: bool | None = None,
        refresh: bool = False,
    ) -> EmbeddingResponse:
        """Embeddings of one text or a list, split into batches sent concurrently.

        No cross-provider fallback: vectors of two models are not comparable, so a silent switch
        would corrupt whatever stores them. Retries on the one target still apply. Cached per text:
        only texts not in the cache are sent (``cache`` and ``refresh`` as for completions).
        """
        texts = check_embedding_input(input)
        check_metadata(metadata)
        chain = self.chain(provider, model, fallbacks=[], capability=Capability.EMBEDDING)
        if self.limits is not None:
            await self.limits.admit(metadata)
        call = self._call("embedding", chain, trace_id, metadata, rounds=waves(len(texts), batch_size))
        _log_chain(call)
        plan = None if self.cache is None else self.cache.embedding_plan(chain, texts, metadata, cache=cache,
                                                                          refresh=refresh)
        try:
            if plan is not None and not (texts := await plan.lookup()):
                result = await plan.merge(None, call.trace_id, call.started)
            else:
                result = await embed_in_batches(self.rounds, call, texts, batch_size)
                if plan is not None:
                    result = await plan.merge(result, call.trace_id, call.started)
        except Exception as exc:
            self._report(call, error=exc)
            raise
        self._report(call, routing=result.routing)
        await self._account(call, result.routing)
        return result

    def create_embedding(self, input: str | Sequence[str], provider: Any = None,
                         model: str | None = None, **kwargs: Any) -> EmbeddingResponse:
        """Sync twin of :meth:`acreate_embedding`."""
        return self._bridge.run(self.acreate_embedding(input, provider, model, **kwargs))

    # ----- reports and lifecycle ----------------------------------------------------------------

    def feedback(self, trace_id: str, score: float, comment: str | None = None) -> FeedbackRecord:
        """Record how good the answer of call ``trace_id`` was: ``score`` from 0 (bad) to 1 (good).

        Feedback closes an A/B test's loop: ``sophia experiments`` compares the variants' mean scores.
        Raises ``InvalidRequestError`` for a bad trace id, score or comment; never calls the network.
        """
        record = FeedbackRecord.checked(trace_id, score, comment)
        self.feedback_observers.notify(record)
        return record

    def _report_hit(self, call: Call, routing: RoutingInfo, started: float) -> RoutingInfo:
        """Report a cache hit; its routing facts with this call's route and complexity."""
        routing = call.facts(routing)
        self._report(call, routing=routing, started=started)
        return routing

    def _report(self, call: Call, *, routing: RoutingInfo | None = None, error: BaseException | None = None,
                started: float | None = None) -> None:
        latency_ms = call.elapsed_ms if started is None else (time.perf_counter() - started) * 1000
        if log.isEnabledFor(logging.DEBUG):
            _log_outcome(call, routing, error, latency_ms)
        self.observers.notify(CallRecord(
            kind=call.kind, trace_id=call.trace_id, chain=tuple(t.label for t in call.chain.targets),
            latency_ms=latency_ms, routing=routing, error=error, metadata=dict(call.metadata or {}),
            route=call.route, variant=routing.variant if routing is not None else call.variant,
            complexity=call.complexity,
        ))

    async def _account(self, call: Call, routing: RoutingInfo | None) -> None:
        if self.limits is not None:
            await self.limits.account(call.metadata, routing)

    async def aclose(self) -> None:
        """Close the transport's pool of the running loop, the cache's and the breakers' connections."""
        await self.transport.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.circuits is not None:
            await self.circuits.aclose()


async def _prepare(body: dict[str, Any], prepare: MessagesHook | None, chain: Chain) -> None:
    """The body's messages as sent, once the cache has missed: what ``prepare`` makes of them, then
    long system prompts marked for the providers' prompt caches."""
    messages = body["messages"]
    if prepare is not None:
        messages = check_messages(await prepare(list(messages)))
    body["messages"] = mark_prompt_cache(chain, messages)


def _secrets(settings: Settings) -> list[str]:
    """Every secret value of ``settings``: what error messages and logs must never show."""
    return [v.get_secret_value() for v in settings.model_dump().values() if isinstance(v, SecretStr)]


def _log_chain(call: Call) -> None:
    if log.isEnabledFor(logging.DEBUG):
        who = " ".join(f"{k}={v}" for k, v in (call.metadata or {}).items() if k in ("domain", "role", "agent_id"))
        log.debug("%s %s: chain %s%s", call.kind, call.trace_id, " -> ".join(t.label for t in call.chain.targets),
                  f" ({who})" if who else "")


def _log_outcome(call: Call, routing: RoutingInfo | None, error: BaseException | None, latency_ms: float) -> None:
    if routing is not None and routing.cached:
        log.debug("%s %s: cache %s, answer of %s/%s, no provider called (%.1f ms)", call.kind, call.trace_id,
                  routing.cached.replace("_", " "), routing.provider, routing.model, latency_ms)
    elif routing is not None:
        fallback = f", fallback from {call.chain.primary.label}" if routing.fallback_used else ""
        log.debug("%s %s: served by %s/%s%s; attempts: %s (%.0f ms)", call.kind, call.trace_id, routing.provider,
                  routing.model, fallback, summarize_attempts(routing.attempts) or "none reported", latency_ms)
    elif error is not None:
        log.debug("%s %s: failed after %.0f ms: %s", call.kind, call.trace_id, latency_ms, describe_error(error))
