"""Deterministic answers and token accounting shared by every wire format.

"Tokens" are whitespace-separated words: crude, but identical for prompt and completion
and stable across runs, which is all tests and cost accounting need.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ECHO_WORDS = 12
_JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)
_SCHEMA_MARKER = re.compile(r"\bjson schema\b", re.IGNORECASE)
_MAX_DEPTH = 8


def text_of(content: Any) -> str:
    """Flatten a message ``content`` (string or list of typed parts) into plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif "content" in part:  # tool_result blocks nest their text
                    parts.append(text_of(part["content"]))
            elif isinstance(part, str):
                parts.append(part)
        return " ".join(parts)
    return ""


def count_tokens(text: str) -> int:
    """The simulators' token count: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(messages: Any, system: Any = None) -> int:
    """The tokens of every message's content, plus the system prompt's (Anthropic sends it apart)."""
    total = count_tokens(text_of(system)) if system is not None else 0
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                total += count_tokens(text_of(message.get("content")))
    return total


def last_user_text(messages: Any) -> str:
    """The text of the last user message; empty when there is none."""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return text_of(message.get("content"))
    return ""


@dataclass(frozen=True, slots=True)
class Answer:
    """A simulated answer: its text, whether ``max_tokens`` cut it, and its token count."""

    text: str
    truncated: bool
    completion_tokens: int

    def pieces(self) -> list[str]:
        """Stream deltas, one word each, whose concatenation is exactly ``text``."""
        words = self.text.split(" ")
        return [words[0], *(" " + w for w in words[1:])] if self.text else [""]


def requested_schema(text: str) -> dict[str, Any] | None:
    """The JSON Schema a prompt asks the answer to match: the first JSON object after the words
    "JSON Schema"; None when there is none."""
    for marker in _SCHEMA_MARKER.finditer(text):
        start = text.find("{", marker.end())
        if start < 0:
            return None
        try:
            schema, _ = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(schema, dict):
            return schema
    return None


def instance_of(schema: Any, tag: str, root: dict[str, Any] | None = None, name: str = "value",
                depth: int = 0) -> Any:
    """A valid instance of ``schema``, the same every time: an example or a non-null default where the
    schema gives one, else the first enum value or option, one item per list (or ``minItems``), numbers
    within their bounds, and strings ``"<tag> <property name>"``."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return instance_of(target, tag, root, name, depth + 1)
    for given in (schema.get("examples") or [None])[0], schema.get("default"), schema.get("const"):
        if given is not None:
            return given
    if schema.get("enum"):
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        usable = [o for o in options if o.get("type") != "null"] or options
        return instance_of(usable[0], tag, root, name, depth + 1)
    return _typed(schema, tag, root, name, depth)


def _typed(schema: dict[str, Any], tag: str, root: dict[str, Any], name: str, depth: int) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        return {key: instance_of(sub, tag, root, key, depth + 1) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [instance_of(schema.get("items", {}), tag, root, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number_within(schema, integer=kind == "integer")
    if kind in ("boolean", "null"):
        return True if kind == "boolean" else None
    text = f"{tag} {name}".ljust(int(schema.get("minLength", 0)), ".")
    return text[: int(schema["maxLength"])] if "maxLength" in schema else text


def _number_within(schema: dict[str, Any], *, integer: bool) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None:
        value = low + 1 if "exclusiveMinimum" in schema else low
    elif high is not None:
        value = min(1, high - 1 if "exclusiveMaximum" in schema else high)
    else:
        value = 1
    return int(value) if integer else value


def compose(provider: str, model: str, messages: Any, max_tokens: Any) -> Answer:
    """The deterministic answer: the provider/model tag and the first words of the last user message.

    A last user message that asks for JSON matching a JSON Schema gets an instance of that schema
    (``instance_of``); one that otherwise mentions JSON gets a JSON insight; ``max_tokens`` cuts the
    answer to that many words.
    """
    asked = last_user_text(messages)
    echo = " ".join(asked.split()[:ECHO_WORDS]) or "(no user message)"
    tag = f"[{provider}/{model}]"
    schema = requested_schema(asked)
    if schema is not None:
        text = json.dumps(instance_of(schema, tag))
    elif _JSON_WORD.search(asked):
        # Agent code that asks for JSON must get parseable JSON to be testable at all.
        text = json.dumps(
            {
                "summary": f"{tag} {echo}",
                "key_points": [f"served by {provider}", f"model {model}"],
                "recommendations": ["verify with a real provider before relying on this"],
                "confidence": 0.8,
            }
        )
    else:
        text = f"{tag} {echo}"
    words = text.split()
    limit = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None
    if limit is not None and 0 <= limit < len(words):
        return Answer(" ".join(words[:limit]), True, limit)
    # Single spaces only, so the word count is also the stream piece count.
    return Answer(" ".join(words), False, len(words))
