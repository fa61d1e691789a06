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


def compose(provider: str, model: str, messages: Any, max_tokens: Any) -> Answer:
    """The deterministic answer: the provider/model tag and the first words of the last user message.

    A last user message that mentions JSON gets a JSON insight; ``max_tokens`` cuts the answer to that many
    words.
    """
    asked = last_user_text(messages)
    echo = " ".join(asked.split()[:ECHO_WORDS]) or "(no user message)"
    tag = f"[{provider}/{model}]"
    if _JSON_WORD.search(asked):
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
