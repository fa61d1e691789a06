"""What a cache entry holds, and the conversions between answers, streams and entries.

A chat entry is the whole answer (a ChatCompletion) plus who produced it. A finished stream is
assembled into that same shape, and a hit on a streaming request is replayed as chunks, so streamed
and plain calls share entries. Embedding entries are one vector each, packed as float64 (exact).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from typing import Any

from app.core.results import ChatCompletion, ChatCompletionChunk, RoutingInfo, Usage

_PLAIN_DELTA = frozenset({"role", "content"})


def pack_completion(completion: ChatCompletion, routing: RoutingInfo) -> bytes:
    """A chat entry: the answer (routing facts excluded) and the provider, model, index and variant that served it."""
    return json.dumps({
        "completion": completion.model_dump(mode="json"),
        "provider": routing.provider, "model": routing.model, "served_index": routing.served_index,
        "variant": routing.variant,
    }, separators=(",", ":")).encode()


def unpack_completion(raw: bytes) -> tuple[ChatCompletion, dict[str, Any]] | None:
    """The stored answer and its origin, or None if the entry cannot be read (it then counts as a miss)."""
    try:
        data = json.loads(raw)
        return ChatCompletion.model_validate(data["completion"]), data
    except (ValueError, KeyError, TypeError):
        return None


def assemble(chunks: Sequence[ChatCompletionChunk], usage: Usage | None) -> ChatCompletion | None:
    """The whole answer of a finished stream; None when it carried more than text (tool calls...)."""
    if not chunks:
        return None
    choices: dict[int, dict[str, Any]] = {}
    extras: dict[str, Any] = {}
    for chunk in chunks:
        extras.update({k: v for k, v in (chunk.model_extra or {}).items() if v is not None})
        for choice in chunk.choices:
            delta_extra = {k: v for k, v in (choice.delta.model_extra or {}).items() if v is not None}
            if delta_extra.keys() - _PLAIN_DELTA:
                return None
            slot = choices.setdefault(choice.index, {"role": "assistant", "content": "", "finish": None})
            slot["role"] = choice.delta.role or slot["role"]
            slot["content"] += choice.delta.content or ""
            slot["finish"] = choice.finish_reason or slot["finish"]
    first = chunks[0]
    return ChatCompletion.model_validate({
        **extras, "id": first.id, "object": "chat.completion", "created": first.created, "model": first.model,
        "choices": [{"index": i, "message": {"role": c["role"], "content": c["content"]},
                     "finish_reason": c["finish"]} for i, c in sorted(choices.items())],
        "usage": usage.model_dump() if usage else None,
    })


def replay(completion: ChatCompletion) -> list[ChatCompletionChunk]:
    """A cached answer as a stream: one chunk with the content, one with the finish and the usage."""
    extras = {k: v for k, v in (completion.model_extra or {}).items() if v is not None}
    head = {"id": completion.id, "object": "chat.completion.chunk", "created": completion.created,
            "model": completion.model}
    deltas = []
    for choice in completion.choices:
        message = choice.message.model_dump(exclude_none=True)
        if isinstance(message.get("tool_calls"), list):  # stream deltas number their tool calls
            message["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        deltas.append({"index": choice.index, "delta": message, "finish_reason": None})
    content = ChatCompletionChunk.model_validate({**extras, **head, "choices": deltas})
    finish = ChatCompletionChunk.model_validate({
        **head, "choices": [{"index": c.index, "delta": {}, "finish_reason": c.finish_reason}
                            for c in completion.choices],
        "usage": completion.usage.model_dump() if completion.usage else None,
    })
    return [content, finish]


def pack_vector(vector: Sequence[float]) -> bytes:
    """A vector as the bytes of float64 values: stored exactly."""
    return array("d", vector).tobytes()


def unpack_vector(raw: bytes) -> list[float] | None:
    """The vector packed by ``pack_vector``; None for bytes that cannot be one."""
    if len(raw) % 8:
        return None
    return array("d", raw).tolist()
