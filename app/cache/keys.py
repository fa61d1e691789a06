"""Cache keys: ``domain:agent_id:request_hash``, identical in every process and after restarts.

The hash is a sha256 over a canonical JSON (sorted keys, no whitespace) of everything that changes
the answer: the chain's (provider, model) pairs in order, the messages and the sampling parameters.
Trace ids and metadata are not part of it, and neither is ``stream``: a streamed and a plain call
for the same request share one entry (a stream is stored as its whole answer).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

CORE_DOMAIN = "core"
NO_AGENT = "-"
"""The agent id placeholder for calls made without an agent."""

# Transport options: they change how an answer travels, not what it says.
NOT_ANSWER_PARAMS = frozenset({"stream", "stream_options"})

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class UncacheableRequest(Exception):
    """A parameter has no canonical JSON form, so the request cannot be keyed; it goes uncached."""


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise UncacheableRequest(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(value: Any) -> str:
    """One JSON text per value: sorted keys, no whitespace.

    Raises ``UncacheableRequest`` for NaN, infinity or an object with no JSON form.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain,
                          allow_nan=False)
    except ValueError as exc:  # NaN or infinity
        raise UncacheableRequest(str(exc)) from None


def digest(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def chat_request_hash(chain: Sequence[tuple[str, str]], messages: Sequence[Mapping[str, Any]],
                      params: Mapping[str, Any]) -> str:
    """The hash of what decides a chat answer: the chain's (provider, model) pairs, messages, parameters.

    Transport options (``stream``, ``stream_options``) are left out.
    """
    answer_params = {k: v for k, v in params.items() if k not in NOT_ANSWER_PARAMS}
    return digest({"kind": "chat", "chain": [list(t) for t in chain], "messages": list(messages),
                   "params": answer_params})


def embedding_hash(provider: str, model: str, text: str) -> str:
    """The hash of one text's embedding by one provider's model."""
    return digest({"kind": "embedding", "provider": provider, "model": model, "text": text})


def owner(metadata: Mapping[str, Any] | None) -> tuple[str, str]:
    """(domain, agent_id) of a call, from the metadata the factories send; placeholders otherwise."""
    metadata = metadata or {}
    domain = str(metadata.get("domain") or CORE_DOMAIN)
    agent = str(metadata.get("agent_id") or NO_AGENT)
    # A colon inside a part would make two different owners share a key prefix.
    return _UNSAFE.sub("_", domain), _UNSAFE.sub("_", agent)


def cache_key(domain: str, agent_id: str, request_hash: str) -> str:
    """The backend key ``domain:agent_id:request_hash``."""
    return f"{domain}:{agent_id}:{request_hash}"
