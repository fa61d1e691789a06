"""OpenAI-compatible endpoints: chat completions (plain and SSE streams), embeddings, models."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict

from app.core.errors import InvalidRequestError, StreamInterruptedError
from app.core.manager import new_trace_id
from app.core.model_names import list_models, resolve_model
from app.core.results import ChatCompletionChunk, RoutingInfo, as_dict, as_json
from app.core.streaming import CompletionStream
from app.service.deps import rate_limited
from app.service.errors import describe, error_body
from app.service.state import StateDep

# Rate limited route by route, not on the router: the routes that need the caller's identity take it
# as a parameter, and a router-level guard would be solved a second time for them.
router = APIRouter(prefix="/v1")

# Fields of OpenAI's request that the gateway receives as they are; the rest is ours to handle.
# `metadata` (an OpenAI field for stored completions) and the manager's own keywords are never passed
# through: a client must not set trace ids, routing or cache behaviour for everyone.
_OURS = {"model", "messages", "stream", "stream_options", "fallbacks", "metadata", "trace_id", "provider",
         "cache", "refresh", "semantic_cache"}


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; other OpenAI parameters (temperature, max_tokens...) pass through."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    fallbacks: list[str] | None = None
    """Our extension: the targets after ``model`` (``[]``: none); default, the provider's usual fallbacks."""


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
    return headers


def _caller(route_metadata: dict[str, str], identity: str) -> dict[str, str]:
    # The caller's identity (a token digest, or its IP without auth) is what API-token limits count.
    return {**route_metadata, "api_token": identity}


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, state: StateDep, identity: Annotated[str, Depends(rate_limited)]) -> Any:
    """Create a chat completion, as OpenAI's API does, with provider fallback.

    ``model`` is ``<provider>/<model>`` (e.g. ``groq/llama-3.3-70b-versatile``) or a role
    (``artemis/code_reviewer``: that role's provider chain). With ``stream: true`` the answer comes as
    server-sent events ending in ``[DONE]``; a stream that breaks ends with an error event instead.
    The ``x-sophia-provider``, ``x-sophia-model`` and ``x-sophia-fallback`` headers say who served.
    """
    route = resolve_model(body.model, state.manager.settings)
    params = {k: v for k, v in (body.model_extra or {}).items() if k not in _OURS}
    trace_id = new_trace_id()
    result = await state.manager.acreate_completion(
        provider=route.provider, fallbacks=route.fallbacks if body.fallbacks is None else body.fallbacks,
        messages=body.messages, stream=body.stream,
        trace_id=trace_id, metadata=_caller(route.metadata, identity), **params,
    )
    if not isinstance(result, CompletionStream):
        return Response(as_json(result), media_type="application/json",
                        headers=_routing_headers(result.routing, trace_id))
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
            yield _data(first.model_dump_json(exclude_none=True))
        async for chunk in stream:
            yield _data(chunk.model_dump_json(exclude_none=True))
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
    return _data(json.dumps(payload, separators=(",", ":")))


def _data(json_text: str) -> str:
    return f"data: {json_text}\n\n"


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, state: StateDep, identity: Annotated[str, Depends(rate_limited)]) -> Any:
    """Create embeddings, as OpenAI's API does; ``model`` is ``<provider>/<embedding model>``."""
    route = resolve_model(body.model, state.manager.settings)
    if route.metadata:
        raise InvalidRequestError(f"{body.model} is a chat role; embeddings need '<provider>/<embedding model>'")
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


@router.get("/models", dependencies=[Depends(rate_limited)])
async def models(state: StateDep) -> dict[str, Any]:
    """List the models: each role's chain and each provider's default chat and embedding model.

    ``available`` says whether the model can be served now (its provider has a key).
    """
    return {"object": "list", "data": list_models(state.manager.router)}
