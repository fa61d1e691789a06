"""OpenAI-compatible endpoints: chat completions (plain and SSE streams), embeddings, models."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from app.core.errors import InvalidRequestError, StreamInterruptedError
from app.core.manager import new_trace_id
from app.core.model_names import list_models, resolve_model
from app.core.results import ChatCompletionChunk, RoutingInfo, as_dict
from app.core.streaming import CompletionStream
from app.service.deps import rate_limited
from app.service.errors import describe, error_body
from app.service.state import StateDep

router = APIRouter(prefix="/v1", dependencies=[Depends(rate_limited)])

# Fields of OpenAI's request that the gateway receives as they are; the rest is ours to handle.
# The manager's own keywords are never passed through: a client must not set trace ids, routing or
# cache behaviour for everyone. `metadata` (OpenAI's key-value pairs) becomes the request's metadata,
# which routing rules read (conditions, sticky keys), except the keys our own layers set.
_OURS = {"model", "messages", "stream", "stream_options", "fallbacks", "metadata", "trace_id", "provider",
         "cache", "refresh", "semantic_cache", "route", "role"}
_RESERVED_METADATA = frozenset({"domain", "agent_id", "role", "purpose", "api_token"})
MAX_METADATA = 16  # OpenAI's own limit on metadata pairs


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; other OpenAI parameters (temperature, max_tokens...) pass through."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    fallbacks: list[str] | None = None
    """Our extension: the targets after ``model`` (``[]``: none); default, the provider's usual fallbacks."""
    metadata: dict[str, str] | None = None
    """Key-value pairs routing rules read (``metadata.tier``, a sticky ``metadata.user_id``)."""

    def routing_metadata(self) -> dict[str, str]:
        """The client's metadata, checked: at most 16 short pairs, none of the keys our layers set."""
        pairs = self.metadata or {}
        if len(pairs) > MAX_METADATA:
            raise InvalidRequestError(f"metadata holds at most {MAX_METADATA} pairs")
        for key, value in pairs.items():
            if key in _RESERVED_METADATA:
                raise InvalidRequestError(f"metadata key {key!r} is set by the service; use another name")
            if len(key) > 64 or len(value) > 512:
                raise InvalidRequestError("metadata keys are at most 64 characters and values at most 512")
        return dict(pairs)


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; ``encoding_format`` is ``float`` or ``base64``."""

    model: str
    input: str | list[str]
    encoding_format: str = "float"


def _header_value(value: str) -> str:
    # HTTP header values are Latin-1 on the wire: anything else (or a line break) is escaped, never a 500.
    return value.encode("ascii", "backslashreplace").decode("ascii").replace("\r", "").replace("\n", "")


def _routing_headers(routing: RoutingInfo | None, trace_id: str) -> dict[str, str]:
    headers = {"x-sophia-trace-id": _header_value(trace_id)}
    if routing is not None:
        headers.update({"x-sophia-provider": _header_value(routing.provider),
                        "x-sophia-model": _header_value(routing.model),
                        "x-sophia-fallback": str(routing.fallback_used).lower()})
        for name in ("route", "variant", "complexity"):
            value = getattr(routing, name)
            if value is not None:
                headers[f"x-sophia-{name}"] = _header_value(value)
    return headers


def _caller(route_metadata: dict[str, str], identity: str) -> dict[str, str]:
    # The caller's identity (a token digest, or its IP without auth) is what API-token limits count.
    return {**route_metadata, "api_token": identity}


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, state: StateDep, identity: Annotated[str, Depends(rate_limited)]) -> Any:
    """Create a chat completion, as OpenAI's API does, with provider fallback.

    ``model`` is ``<provider>/<model>`` (e.g. ``groq/llama-3.3-70b-versatile``), a role
    (``artemis/code_reviewer``: that role's strategy) or a route of the routing file (``route/support_ab``).
    ``metadata`` is what a route's rules and sticky keys read. With ``stream: true`` the answer comes as
    server-sent events ending in ``[DONE]``; a stream that breaks ends with an error event instead.
    The ``x-sophia-provider``, ``x-sophia-model``, ``x-sophia-fallback`` (and for policies
    ``x-sophia-route``, ``x-sophia-variant``, ``x-sophia-complexity``) headers say how it was served.
    """
    route = resolve_model(body.model, state.manager.policies.current, state.manager.settings)
    params = {k: v for k, v in (body.model_extra or {}).items() if k not in _OURS}
    metadata = {**body.routing_metadata(), **route.metadata}
    trace_id = new_trace_id()
    result = await state.manager.acreate_completion(
        **route.call(body.fallbacks), messages=body.messages, stream=body.stream,
        trace_id=trace_id, metadata=_caller(metadata, identity), **params,
    )
    if not isinstance(result, CompletionStream):
        return JSONResponse(as_dict(result), headers=_routing_headers(result.routing, trace_id))
    # Wait for the first chunk so that a chain failing before any content is an HTTP error status.
    try:
        first = await result.__anext__()
    except StopAsyncIteration:
        first = None
    return StreamingResponse(_sse(result, first), media_type="text/event-stream",
                             headers={**_routing_headers(None, trace_id), "cache-control": "no-cache"})


async def _sse(stream: CompletionStream, first: ChatCompletionChunk | None) -> AsyncIterator[str]:
    try:
        if first is not None:
            yield _event(first.model_dump(exclude_none=True))
        async for chunk in stream:
            yield _event(chunk.model_dump(exclude_none=True))
    except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
        # Never a fake [DONE]: the client must see that the answer is incomplete.
        status, code, extra = describe(exc)
        if isinstance(exc, StreamInterruptedError):
            extra["partial_chars"] = len(exc.partial_text)
        yield _event(error_body(status, str(exc), code=code, **extra))
        return
    finally:
        await stream.aclose()
    yield "data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, state: StateDep, identity: Annotated[str, Depends(rate_limited)]) -> Any:
    """Create embeddings, as OpenAI's API does; ``model`` is ``<provider>/<embedding model>``."""
    route = resolve_model(body.model, state.manager.policies.current, state.manager.settings)
    if route.provider is None:
        raise InvalidRequestError(f"{body.model} is a chat role or route; embeddings need "
                                  "'<provider>/<embedding model>'")
    result = await state.manager.acreate_embedding(body.input, provider=route.provider,
                                                   metadata=_caller(route.metadata, identity))
    payload = as_dict(result)
    if body.encoding_format == "base64":
        # The OpenAI SDK asks for base64 by default: little-endian float32, as OpenAI sends it.
        for item in payload["data"]:
            vector = item["embedding"]
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    trace_id = result.routing.trace_id if result.routing else ""
    return JSONResponse(payload, headers=_routing_headers(result.routing, trace_id))


@router.get("/models")
async def models(state: StateDep) -> dict[str, Any]:
    """List the models: each role and route of the routing policy, and each provider's default chat and
    embedding model.

    ``available`` says whether the model can be served now (its provider has a key).
    """
    return {"object": "list", "data": list_models(state.manager.router, state.manager.policies.current)}
