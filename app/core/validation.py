"""Checks on caller input, run before anything is sent: bad input never costs a round trip.

Every string that will be sent, hashed into a cache key or put in a header must be encodable:
a lone surrogate (``"x\ud800y"``, which JSON allows) is refused, and so is every number that is
not finite (``NaN``, ``1e400``), wherever it sits in the parameters. Model names are printable
ASCII without spaces (they end up in response headers and provider URLs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors import InvalidRequestError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_NAME = 200
_NAME = re.compile(r"[\x21-\x7e]+")


def check_encodable(value: Any, where: str) -> None:
    """Raise ``InvalidRequestError`` naming ``where`` (e.g. ``messages[0].content``) for a string with a lone
    surrogate or a number that is not finite, anywhere inside ``value``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(f"{where} contains a lone surrogate (not valid Unicode text)") from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"{where} must be a finite number, got {value}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_encodable(key, f"{where} key")
            check_encodable(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_encodable(item, f"{where}[{i}]")


def check_name(value: Any, where: str) -> None:
    """A provider or model name: printable ASCII without spaces, at most ``MAX_NAME`` characters."""
    if not isinstance(value, str):
        return  # other shapes are read (and refused) by the router
    if len(value) > MAX_NAME:
        raise InvalidRequestError(f"{where} is longer than {MAX_NAME} characters")
    if value and not _NAME.fullmatch(value):
        raise InvalidRequestError(f"{where} must be printable ASCII without spaces or control characters")


def check_target_names(provider: Any, model: Any, fallbacks: Any) -> None:
    """The names a chain is built from (``model``, ``fallbacks[i]``...)."""
    check_name(provider, "model" if model is None else "provider")
    check_name(model, "model")
    if isinstance(fallbacks, Sequence) and not isinstance(fallbacks, (str, bytes)):
        for i, item in enumerate(fallbacks):
            if isinstance(item, Mapping):
                check_name(item.get("provider"), f"fallbacks[{i}].provider")
                check_name(item.get("model"), f"fallbacks[{i}].model")
            else:
                check_name(item, f"fallbacks[{i}]")


def check_metadata(metadata: Any) -> None:
    """Call metadata: a mapping of strings (it travels in a header and into analytics)."""
    if metadata is None:
        return
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError("metadata must be a mapping of strings")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidRequestError(f"metadata[{key!r}] must be a string")
        check_encodable(key, "metadata key")
        check_encodable(value, f"metadata.{key}")


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
        for key, value in message.items():
            check_encodable(value, f"messages[{i}].{key}")
        checked.append(dict(message))
    return checked


def _number(params: Mapping[str, Any], name: str, low: float, high: float | None) -> None:
    value = params.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidRequestError(f"{name} must be a finite number, got {value}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidRequestError(f"{name} must be {bound}, got {value}")


def check_params(params: Mapping[str, Any]) -> None:
    """Raise ``InvalidRequestError`` for a sampling parameter out of OpenAI's range, or any value that
    cannot be sent (a lone surrogate, a number that is not finite)."""
    for name, value in params.items():
        check_encodable(value, name)
    _number(params, "temperature", 0, 2)
    _number(params, "top_p", 0, 1)
    _number(params, "presence_penalty", -2, 2)
    _number(params, "frequency_penalty", -2, 2)
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or abs(seed) >= 2**63):
        raise InvalidRequestError(f"seed must be an integer within 64 bits, got {seed!r}")
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
        check_encodable(text, f"input[{i}]")
    return list(texts)
