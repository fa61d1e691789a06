"""OpenAI Chat Completions wire format, with each compatible provider's real quirks.

The quirks matter because the Portkey gateway parses them per provider:
- groq reports stream usage in ``x_groq.usage`` on the finishing chunk;
- deepseek, mistral, together and perplexity put ``usage`` on the finishing chunk;
- perplexity adds ``citations`` / ``search_results``, separates SSE events with CRLF
  (the gateway splits its stream on ``\r\n\r\n``) and ends without ``data: [DONE]``
  (the gateway synthesises [DONE] itself and would choke on a real one);
- error bodies differ (see :func:`error_body`).
``stream_options.include_usage`` additionally yields OpenAI's trailing ``choices: []`` chunk
on every provider; the gateway does not forward that option except to openai.
"""

from __future__ import annotations

import json
from typing import Any

from . import entropy
from .answers import Answer
from .provider_options import Search

NO_SEARCH = Search()

_DUMP = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

USAGE_ON_FINISH_CHUNK = frozenset({"deepseek", "mistral", "together", "perplexity"})
SENDS_DONE = frozenset({"openai", "deepseek", "groq", "mistral", "together"})


def _event_end(provider: str) -> bytes:
    return b"\r\n\r\n" if provider == "perplexity" else b"\n\n"


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as providers send it."""
    return _DUMP(obj).encode("utf-8")


def new_id(provider: str) -> str:
    """A completion id in ``provider``'s own format."""
    if provider in ("openai", "groq"):
        return "chatcmpl-" + entropy.token_hex(12)
    if provider in ("deepseek", "perplexity"):
        return entropy.uuid4()
    return entropy.token_hex(16)


# ---------------------------------------------------------------- errors

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}
_OPENAI_CODES = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}


def _error_type(status: int) -> str:
    return _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(provider: str, status: int, message: str) -> dict:
    """The error JSON each provider really returns for ``status``."""
    err_type = _error_type(status)
    code = _OPENAI_CODES.get(status)
    if provider == "mistral":
        if status == 401:
            return {"message": "Unauthorized", "request_id": entropy.token_hex(16)}
        return {
            "object": "error",
            "message": message,
            "type": err_type,
            "param": None,
            "code": str(code or status),
        }
    if provider == "perplexity":
        # The gateway calls ``error.code.toString()``: Perplexity's code is the numeric status.
        return {"error": {"message": message, "type": err_type, "code": status}}
    if provider == "groq":
        return {"error": {"message": message, "type": err_type, "code": code}}
    # openai, deepseek and together share OpenAI's shape.
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


def missing_key_message(provider: str) -> str:
    """What ``provider`` says when a request has no API key."""
    if provider == "openai":
        return (
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    return "Missing API key: send 'Authorization: Bearer <key>'."


# ---------------------------------------------------------------- usage


def _usage(provider: str, prompt: int, completion: int, search: Search = NO_SEARCH) -> dict:
    base: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if provider == "openai":
        base["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        base["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    elif provider == "deepseek":
        base["prompt_tokens_details"] = {"cached_tokens": 0}
        base["prompt_cache_hit_tokens"] = 0
        base["prompt_cache_miss_tokens"] = prompt
    elif provider == "groq":
        base.update(queue_time=0.0001, prompt_time=0.0001, completion_time=0.0001, total_time=0.0002)
    elif provider == "perplexity":
        base["search_context_size"] = search.context_size
    return base


def _citations(query: str, search: Search) -> tuple[list[str], list[dict]]:
    sources = search.sources(query)
    results = [
        {
            "title": f"Simulated source {i}",
            "url": url,
            "date": date,
            "last_updated": date,
            "snippet": f"Simulated search result {i} for: {query[:80]}",
        }
        for i, (url, date) in enumerate(sources, 1)
    ]
    return [url for url, _ in sources], results


# ---------------------------------------------------------------- non-stream


def chat_completion(provider: str, model: str, answer: Answer, prompt: int, query: str,
                    search: Search = NO_SEARCH) -> dict:
    """``provider``'s non-stream chat completion, with its provider-specific fields."""
    finish = "length" if answer.truncated else "stop"
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if provider == "openai":
        message.update(refusal=None, annotations=[])
    elif provider == "mistral":
        message["tool_calls"] = None
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    body: dict[str, Any] = {
        "id": new_id(provider),
        "object": "chat.completion",
        "created": entropy.timestamp(),
        "model": model,
        "choices": [choice],
        "usage": _usage(provider, prompt, answer.completion_tokens, search),
    }
    if provider in ("openai", "deepseek", "groq"):
        body["system_fingerprint"] = "fp_simulated"
    if provider == "openai":
        body["service_tier"] = "default"
    elif provider == "groq":
        body["x_groq"] = {"id": "req_" + entropy.token_hex(13)}
    elif provider == "together":
        body["prompt"] = []
    elif provider == "perplexity":
        body["citations"], body["search_results"] = _citations(query, search)
        choice["delta"] = {"role": "assistant", "content": ""}
    return body


# ---------------------------------------------------------------- stream


def stream_events(
    provider: str, model: str, answer: Answer, prompt: int, query: str, include_usage: bool,
    search: Search = NO_SEARCH,
) -> list[bytes]:
    """SSE events, one per list item; item 0 is the first content-bearing chunk."""
    cid = new_id(provider)
    created = entropy.timestamp()
    extra: dict[str, Any] = {}
    if provider in ("openai", "deepseek", "groq"):
        extra["system_fingerprint"] = "fp_simulated"
    if provider == "perplexity":
        extra["citations"], extra["search_results"] = _citations(query, search)
    if provider == "openai" and include_usage:
        extra["usage"] = None  # OpenAI marks every non-final chunk this way once usage is requested
    final_usage = _usage(provider, prompt, answer.completion_tokens, search)
    end = _event_end(provider)

    def chunk(delta: dict, finish: str | None, **more: Any) -> bytes:
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
            **more,
        }
        return b"data: " + dumps(obj) + end

    pieces = answer.pieces()
    first_extra: dict[str, Any] = (
        {"x_groq": {"id": "req_" + entropy.token_hex(13)}} if provider == "groq" else {}
    )
    events = [chunk({"role": "assistant", "content": pieces[0]}, None, **first_extra)]
    events.extend(chunk({"content": p}, None) for p in pieces[1:])

    finish = "length" if answer.truncated else "stop"
    finish_more: dict[str, Any] = {}
    if provider in USAGE_ON_FINISH_CHUNK:
        finish_more["usage"] = final_usage
    elif provider == "groq":
        finish_more["x_groq"] = {"id": "req_" + entropy.token_hex(13), "usage": final_usage}
    events.append(chunk({}, finish, **finish_more))

    if include_usage:
        obj = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            **extra,
            "usage": final_usage,
        }
        events.append(b"data: " + dumps(obj) + end)
    if provider in SENDS_DONE:
        events.append(b"data: [DONE]" + end)
    return events


def role_event(provider: str, model: str) -> bytes:
    """The role-only chunk a stream opens with before any content (``stall_before_content`` sends only this)."""
    obj = {"id": new_id(provider), "object": "chat.completion.chunk", "created": entropy.timestamp(), "model": model,
           "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                        "finish_reason": None}]}
    return b"data: " + dumps(obj) + _event_end(provider)


MALFORMED_JSON = b'{"id": "sim-malformed", "object": "chat.completion", "choices": [{"message": '


def malformed_stream(provider: str) -> list[bytes]:
    """A stream whose first event is cut JSON (the ``malformed`` fault)."""
    end = _event_end(provider)
    events = [b'data: {"id": "sim-malformed", "choices": [{"delta": ' + end]
    if provider in SENDS_DONE:
        events.append(b"data: [DONE]" + end)
    return events


# ---------------------------------------------------------------- models

_OWNERS = {
    "openai": "openai",
    "deepseek": "deepseek",
    "groq": "Meta",
    "mistral": "mistralai",
    "perplexity": "perplexity",
}


def models_list(provider: str, models: tuple[str, ...]) -> Any:
    """``provider``'s ``GET /models`` answer (Together's is a bare list)."""
    created = 1_700_000_000
    if provider == "together":
        # Together answers a bare JSON array, not OpenAI's {"object": "list"} envelope.
        return [
            {
                "id": m,
                "object": "model",
                "created": created,
                "type": "embedding" if "bert" in m or "bge" in m else "chat",
                "display_name": m.split("/")[-1],
                "organization": m.split("/")[0],
                "context_length": 8192 if "bert" in m or "bge" in m else 131072,
            }
            for m in models
        ]
    data = []
    for m in models:
        item: dict[str, Any] = {"id": m, "object": "model", "created": created, "owned_by": _OWNERS[provider]}
        if provider == "groq":
            item.update(active=True, context_window=131072, public_apps=None)
        data.append(item)
    return {"object": "list", "data": data}
