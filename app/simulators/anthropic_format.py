"""Anthropic Messages API wire format (non-stream body, SSE event sequence, errors, models)."""

from __future__ import annotations

from typing import Any

from . import entropy
from .answers import Answer
from .openai_format import dumps
from .provider_options import CacheUse

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_DISPLAY = {
    "claude-sonnet-4-20250514": "Claude Sonnet 4",
    "claude-opus-4-20250514": "Claude Opus 4",
    "claude-3-7-sonnet-20250219": "Claude Sonnet 3.7",
    "claude-3-5-haiku-20241022": "Claude Haiku 3.5",
}


def error_body(status: int, message: str) -> dict:
    """Anthropic's error JSON for ``status``."""
    err_type = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": err_type, "message": message}, "request_id": new_request_id()}


def new_request_id() -> str:
    """An id shaped like Anthropic's ``request-id`` (``req_...``)."""
    return "req_" + entropy.token_hex(12)


def _stop_reason(answer: Answer) -> str:
    return "max_tokens" if answer.truncated else "end_turn"


def _usage(cache: CacheUse, output_tokens: int) -> dict:
    return {"input_tokens": cache.input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache.created, "cache_read_input_tokens": cache.read}


def message(model: str, answer: Answer, cache: CacheUse) -> dict:
    """Anthropic's Messages API answer for ``answer`` (``cache``: how its input split with the prompt cache)."""
    return {
        "id": "msg_" + entropy.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": _stop_reason(answer),
        "stop_sequence": None,
        "usage": _usage(cache, answer.completion_tokens),
    }


def _event(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def stream_events(model: str, answer: Answer, cache: CacheUse) -> tuple[list[bytes], int]:
    """SSE events and the index of the first ``content_block_delta`` (where a cut happens)."""
    start: dict[str, Any] = {
        "id": "msg_" + entropy.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(cache, 1),
    }
    events = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _event("ping", {"type": "ping"}),
    ]
    first_delta = len(events)
    events.extend(
        _event("content_block_delta",
               {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        for piece in answer.pieces()
    )
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": None},
                "usage": {"output_tokens": answer.completion_tokens},
            },
        )
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events, first_delta


MALFORMED_JSON = b'{"id": "msg_malformed", "type": "message", "content": [{"type": "text", "text": '
_MALFORMED_STREAM = [
    b'event: message_start\ndata: {"type": "message_start", "message": {\n\n',
    _event("message_stop", {"type": "message_stop"}),
]


def models_list(models: tuple[str, ...]) -> dict:
    """Anthropic's ``GET /models`` answer."""
    data = [
        {"type": "model", "id": m, "display_name": _DISPLAY.get(m, m), "created_at": "2025-01-01T00:00:00Z"}
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def malformed_stream(provider: str) -> list[bytes]:
    """A stream whose first event is cut JSON (the ``malformed`` fault)."""
    return list(_MALFORMED_STREAM)
