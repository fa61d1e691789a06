"""PortkeyManager: the one entry for every LLM call (chat, streams, embeddings).

A call's chain (primary target, then fallbacks) is compiled into one Portkey config and sent with
the request, so the gateway fails over within one round trip; what the gateway cannot do (fail
over a stream that broke, or a 200 whose body is unusable) is finished here on the remaining
targets. Results carry the routing facts; every call is reported to observers once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx2
from pydantic import SecretStr, ValidationError

from app.cache import ResponseCache
from app.core.attempts import read_attempts
from app.core.errors import (
    AllProvidersFailedError,
    ProviderError,
    ProviderNotConfiguredError,
    StreamClosedError,
    StreamInterruptedError,
    error_class_for_status,
)
from app.core.observation import CallRecord, Observers
from app.core.providers import PROVIDERS
from app.core.redaction import redact
from app.core.results import (
    Attempt,
    ChatCompletion,
    ChatCompletionChunk,
    EmbeddingResponse,
    RoutingInfo,
    Usage,
    summarize_attempts,
)
from app.core.routing import Capability, Chain, Router, Target
from app.core.settings import get_settings
from app.core.streaming import CompletionStream, StreamBroken, SyncCompletionStream, read_chunks
from app.core.sync_bridge import shared_bridge
from app.core.transport import GatewayTransport, parse_json_error
from app.core.validation import check_embedding_input, check_messages, check_params

EMBEDDING_BATCH = 128
EMBEDDING_CONCURRENCY = 4


def new_trace_id() -> str:
    return uuid.uuid4().hex


class PortkeyManager:
    def __init__(self, settings: Any = None, *, transport: GatewayTransport | None = None) -> None:
        self.settings = settings if settings is not None else get_settings()
        self.router = Router(self.settings)
        self.observers = Observers()
        self._secrets = [
            v.get_secret_value() for v in self.settings.model_dump().values() if isinstance(v, SecretStr)
        ]
        # Non-strict mode keeps provider extras such as Perplexity's citations in the answers.
        headers = {"content-type": "application/json", "x-portkey-strict-open-ai-compliance": "false"}
        if self.settings.hosted:
            headers["x-portkey-api-key"] = self.settings.portkey_api_key.get_secret_value()
        self.transport = transport or GatewayTransport(
            self.settings.gateway_url, timeout=self.settings.request_timeout, headers=headers
        )
        self._bridge = shared_bridge()
        self.cache = ResponseCache.from_settings(self.settings)

    @property
    def gateway_url(self) -> str:
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
        if provider is None:
            provider = self.default_provider(capability)
        return self.router.build(self.router.requested(provider, model, fallbacks), capability)

    def default_provider(self, capability: Capability = Capability.CHAT) -> str:
        configured = self.router.configured_providers(capability)
        if configured:
            return configured[0]
        candidates = [n for n, p in PROVIDERS.items() if capability is Capability.CHAT or p.supports_embeddings]
        env_vars = [v for n in candidates for v in self.router.resolutions[n].env_vars]
        raise ProviderNotConfiguredError(candidates, env_vars)

    def _chain_timeout(self, chain: Chain) -> float:
        # The gateway may spend, per target, every retry plus its 1, 2, 4 s back-offs.
        retries = self.settings.max_retries
        per_target = (retries + 1) * self.settings.request_timeout + (2**retries - 1)
        return per_target * len(chain.targets) + 5.0

    def _headers(self, chain: Chain, trace_id: str, metadata: Mapping[str, str] | None,
                 body: Mapping[str, Any] | None = None) -> dict[str, str]:
        has_max_tokens = body is None or "max_tokens" in body or "max_completion_tokens" in body
        headers = {"x-portkey-config": self.router.portkey_config(chain, has_max_tokens=has_max_tokens),
                   "x-portkey-trace-id": trace_id}
        if metadata:
            headers["x-portkey-metadata"] = json.dumps({k: str(v) for k, v in metadata.items()})
        return headers

    # ----- chat ---------------------------------------------------------------------------------

    async def acreate_completion(
        self,
        provider: Any = None,
        model: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        *,
        fallbacks: Sequence[Any] | None = None,
        stream: bool = False,
        trace_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        cache: bool | None = None,
        refresh: bool = False,
        semantic_cache: bool | None = None,
        **params: Any,
    ) -> ChatCompletion | CompletionStream:
        """Chat completion through the gateway. ``stream=True`` returns a CompletionStream.

        ``cache=False`` skips the response cache for this call; ``refresh=True`` ignores a cached
        answer and stores the new one; ``semantic_cache`` turns the semantic cache on or off for
        this call (None: as the settings say for the call's role).
        """
        checked = check_messages(messages)
        check_params(params)
        chain = self.chain(provider, model, fallbacks)
        trace_id = trace_id or new_trace_id()
        body = {"model": chain.primary.model, "messages": checked, **params}
        plan = self.cache.completion_plan(chain, checked, params, metadata, cache=cache, refresh=refresh,
                                          semantic=semantic_cache)
        if stream:
            body["stream"] = True
            body.setdefault("stream_options", {"include_usage": True})
            source = lambda sink: self._stream(chain, body, trace_id, metadata, sink)
            if plan is not None:
                source = plan.streamed(source, trace_id, lambda routing, started: self._report(
                    "chat_stream", chain, trace_id, started, metadata, routing=routing))
            return CompletionStream(source)
        started = time.perf_counter()
        if plan is not None and (hit := await plan.lookup(trace_id)) is not None:
            self._report("chat", chain, trace_id, started, metadata, routing=hit.routing)
            return hit
        completion = await self._complete(chain, body, trace_id, metadata)
        if plan is not None:
            await plan.store(completion)
        return completion

    def create_completion(self, provider: Any = None, model: str | None = None,
                          messages: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any
                          ) -> ChatCompletion | SyncCompletionStream:
        """Sync twin of :meth:`acreate_completion`; with ``stream=True`` returns an iterator of chunks."""
        result = self._bridge.run(self.acreate_completion(provider, model, messages, **kwargs))
        if isinstance(result, CompletionStream):
            return SyncCompletionStream(result, self._bridge)
        return result

    async def _complete(self, chain: Chain, body: dict[str, Any], trace_id: str,
                        metadata: Mapping[str, str] | None) -> ChatCompletion:
        started = time.perf_counter()
        attempts: list[Attempt] = []
        remaining, offset = chain, 0
        try:
            while True:
                body["model"] = remaining.primary.model
                response = await self.transport.post(
                    "/chat/completions", json.dumps(body).encode(), self._headers(remaining, trace_id, metadata, body),
                    self._chain_timeout(remaining),
                )
                round_attempts, index = read_attempts(response.headers, remaining, response.status_code)
                attempts.extend(round_attempts)
                completion = None
                if response.is_success:
                    try:
                        completion = ChatCompletion.model_validate_json(response.content)
                    except ValidationError:
                        pass
                elif not _unreadable_answer(response, round_attempts):
                    raise self._failure(response, chain, attempts, trace_id)
                if completion is None:
                    # The provider said 200 but its body could not be read (the gateway then answers
                    # 500 "Something went wrong" and stops its fallback loop): count it as a failed
                    # attempt and go on with the rest of the chain.
                    attempts[-1] = attempts[-1].model_copy(update={"status": None, "error": "malformed response"})
                    if index + 1 >= len(remaining.targets):
                        raise self._exhausted(chain, attempts, trace_id, "the last answer was not readable")
                    remaining, offset = remaining.after(index), offset + index + 1
                    continue
                served = remaining.targets[index]
                completion.routing = _routing(served, offset + index, attempts, started, completion.usage,
                                              trace_id)
                self._report("chat", chain, trace_id, started, metadata, routing=completion.routing)
                return completion
        except Exception as exc:
            self._report("chat", chain, trace_id, started, metadata, error=exc)
            raise

    async def _stream(self, chain: Chain, body: dict[str, Any], trace_id: str,
                      metadata: Mapping[str, str] | None, sink: CompletionStream
                      ) -> AsyncIterator[ChatCompletionChunk]:
        started = time.perf_counter()
        attempts: list[Attempt] = []
        remaining, offset = chain, 0
        try:
            while True:
                body["model"] = remaining.primary.model
                async with self.transport.stream(
                    "/chat/completions", json.dumps(body).encode(), self._headers(remaining, trace_id, metadata, body),
                    self._chain_timeout(remaining),
                ) as response:
                    round_attempts, index = read_attempts(response.headers, remaining, response.status_code)
                    attempts.extend(round_attempts)
                    if not response.is_success:
                        await response.aread()
                        raise self._failure(response, chain, attempts, trace_id)
                    served = remaining.targets[index]
                    held: list[ChatCompletionChunk] = []  # chunks before the first content
                    delivered = ""
                    usage: Usage | None = None
                    try:
                        async for chunk in read_chunks(response):
                            usage = chunk.usage or usage
                            if not delivered and not chunk.text:
                                held.append(chunk)
                                continue
                            for early in held:
                                yield early
                            held.clear()
                            delivered += chunk.text
                            yield chunk
                    except StreamBroken as broken:
                        broken.reason = redact(broken.reason, self._secrets)  # provider text, may echo a key
                        attempts[-1] = attempts[-1].model_copy(update={"status": None, "error": broken.reason})
                        if delivered:
                            raise StreamInterruptedError(served.provider.name, delivered, broken.reason,
                                                         trace_id) from None
                        if index + 1 >= len(remaining.targets):
                            raise self._exhausted(chain, attempts, trace_id, broken.reason) from None
                        remaining, offset = remaining.after(index), offset + index + 1
                        continue
                    for early in held:
                        yield early
                    routing = _routing(served, offset + index, attempts, started, usage, trace_id)
                    sink.routing = routing
                    self._report("chat_stream", chain, trace_id, started, metadata, routing=routing)
                    return
        except GeneratorExit:
            # The caller stopped reading: the call still happened, so it is still reported once.
            self._report("chat_stream", chain, trace_id, started, metadata, error=StreamClosedError())
            raise
        except Exception as exc:
            self._report("chat_stream", chain, trace_id, started, metadata, error=exc)
            raise

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
        chain = self.chain(provider, model, fallbacks=[], capability=Capability.EMBEDDING)
        trace_id = trace_id or new_trace_id()
        started = time.perf_counter()
        plan = self.cache.embedding_plan(chain, texts, metadata, cache=cache, refresh=refresh)
        if plan is not None and not (texts := await plan.lookup()):
            result = await plan.merge(None, trace_id, started)
            self._report("embedding", chain, trace_id, started, metadata, routing=result.routing)
            return result
        semaphore = asyncio.Semaphore(EMBEDDING_CONCURRENCY)
        batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]

        async def one(batch: list[str]) -> tuple[EmbeddingResponse, list[Attempt]]:
            async with semaphore:
                body = {"model": chain.primary.model, "input": batch}
                response = await self.transport.post(
                    "/embeddings", json.dumps(body).encode(), self._headers(chain, trace_id, metadata),
                    self._chain_timeout(chain),
                )
                attempts, _ = read_attempts(response.headers, chain, response.status_code)
                if not response.is_success:
                    raise self._failure(response, chain, attempts, trace_id)
                try:
                    return EmbeddingResponse.model_validate_json(response.content), attempts
                except ValidationError:
                    raise self._exhausted(chain, attempts, trace_id, "the embeddings answer was not valid") from None

        try:
            tasks = [asyncio.ensure_future(one(b)) for b in batches]
            try:
                parts = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:  # one batch failed: the call failed, stop paying for the others
                    task.cancel()
                raise
            data, attempts, usage, start = [], [], Usage(), 0
            for (part, part_attempts), batch in zip(parts, batches, strict=True):
                for item in sorted(part.data, key=lambda d: d.index):
                    data.append(item.model_copy(update={"index": start + item.index}))
                start += len(batch)
                attempts.extend(part_attempts)
                if part.usage:
                    usage = Usage(prompt_tokens=usage.prompt_tokens + part.usage.prompt_tokens,
                                  total_tokens=usage.total_tokens + part.usage.total_tokens)
            target = chain.primary
            result = EmbeddingResponse(data=data, model=parts[0][0].model or target.model, usage=usage)
            result.routing = _routing(target, 0, attempts, started, usage, trace_id)
            if plan is not None:
                result = await plan.merge(result, trace_id, started)
        except Exception as exc:
            self._report("embedding", chain, trace_id, started, metadata, error=exc)
            raise
        self._report("embedding", chain, trace_id, started, metadata, routing=result.routing)
        return result

    def create_embedding(self, input: str | Sequence[str], provider: Any = None,
                         model: str | None = None, **kwargs: Any) -> EmbeddingResponse:
        return self._bridge.run(self.acreate_embedding(input, provider, model, **kwargs))

    # ----- errors and reports -------------------------------------------------------------------

    def _failure(self, response: httpx2.Response, chain: Chain, attempts: list[Attempt],
                 trace_id: str) -> ProviderError:
        message, _ = parse_json_error(response)
        message = redact(message, self._secrets)
        status = response.status_code
        if len(chain.targets) > 1:
            return AllProvidersFailedError(attempts, status=status, trace_id=trace_id, detail=message)
        retry_after = _retry_after(response.headers.get("retry-after"))
        cls = error_class_for_status(status)
        tried = summarize_attempts(attempts) or chain.primary.label
        error = cls(f"{tried}: {message}", provider=chain.primary.provider.name, status=status,
                    trace_id=trace_id, retry_after=retry_after)
        error.attempts = tuple(attempts)
        return error

    def _exhausted(self, chain: Chain, attempts: list[Attempt], trace_id: str, detail: str) -> ProviderError:
        return AllProvidersFailedError(attempts, status=None, trace_id=trace_id, detail=detail)

    def _report(self, kind: str, chain: Chain, trace_id: str, started: float,
                metadata: Mapping[str, str] | None, *, routing: RoutingInfo | None = None,
                error: BaseException | None = None) -> None:
        self.observers.notify(CallRecord(
            kind=kind, trace_id=trace_id, chain=tuple(t.label for t in chain.targets),
            latency_ms=(time.perf_counter() - started) * 1000, routing=routing, error=error,
            metadata=dict(metadata or {}),
        ))

    # ----- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self.cache.aclose()


def _routing(served: Target, index: int, attempts: list[Attempt], started: float, usage: Usage | None,
             trace_id: str) -> RoutingInfo:
    """The routing facts of an answer served by ``served``, the chain's target number ``index``."""
    return RoutingInfo(
        provider=served.provider.name, model=served.model, fallback_used=index > 0, attempts=attempts,
        latency_ms=(time.perf_counter() - started) * 1000, usage=usage or Usage(), trace_id=trace_id,
        served_index=index,
    )


def _unreadable_answer(response: httpx2.Response, attempts: list[Attempt]) -> bool:
    """True when the gateway crashed on a provider answer that itself was a success.

    The gateway then answers 500 "Something went wrong", flagged as a gateway exception or
    without naming a served target, and does not fall back.
    """
    crashed = (response.headers.get("x-portkey-gateway-exception") == "true"
               or "x-portkey-last-used-option-index" not in response.headers)
    return response.status_code >= 500 and crashed and bool(attempts) and attempts[-1].ok


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
