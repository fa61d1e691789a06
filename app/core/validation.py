"""Checks on caller input, run before anything is sent: bad input never costs a round trip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors import InvalidRequestError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """The messages as plain dicts; raises ``InvalidRequestError`` naming the first bad one."""
    if messages is None:
        raise InvalidRequestError("messages is required: a list like [{'role': 'user', 'content': 'Hello'}]")
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise InvalidRequestError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(f"messages[{i}] must be a dict with 'role' and 'content'")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidRequestError(f"messages[{i}].role is {role!r}; expected one of {sorted(ROLES)}")
        content = message.get("content")
        if content is None and not message.get("tool_calls"):
            raise InvalidRequestError(f"messages[{i}] has no content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequestError(f"messages[{i}].content must be a string or a list of content parts")
        checked.append(dict(message))
    return checked


def _number(params: Mapping[str, Any], name: str, low: float, high: float | None) -> None:
    value = params.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidRequestError(f"{name} must be {bound}, got {value}")


def check_params(params: Mapping[str, Any]) -> None:
    """Raise ``InvalidRequestError`` for a sampling parameter out of OpenAI's range."""
    _number(params, "temperature", 0, 2)
    _number(params, "top_p", 0, 1)
    _number(params, "presence_penalty", -2, 2)
    _number(params, "frequency_penalty", -2, 2)
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidRequestError(f"{name} must be a positive integer, got {value!r}")


def check_embedding_input(value: Any) -> list[str]:
    """The texts to embed (a single string becomes a list of one); raises on empty or non-string input."""
    texts = [value] if isinstance(value, str) else value
    if isinstance(texts, (bytes, Mapping)) or not isinstance(texts, Sequence) or not texts:
        raise InvalidRequestError("input must be a non-empty string or a non-empty list of strings")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError(f"input[{i}] must be a non-empty string")
    return list(texts)
