"""Provider-specific request options the simulators speak, as the providers document them.

- Anthropic prompt caching: content blocks (``system`` included) may carry ``cache_control:
  {"type": "ephemeral"}``; the prefix up to the last marked block is cached for five minutes when it
  holds at least 1,024 tokens. Usage then reports ``cache_creation_input_tokens`` (first request) or
  ``cache_read_input_tokens`` (later ones), and ``input_tokens`` counts only the tokens after it.
- OpenAI-wire providers do not know the marker and reject it (Groq answers 400 "property
  'cache_control' is unsupported"): a gateway that sent it along a fallback would fail there.
- Perplexity's search options: ``search_recency_filter`` (hour, day, week, month, year),
  ``search_domain_filter`` (at most 20 domains; ``-domain`` excludes one) and
  ``web_search_options.search_context_size`` (low, medium, high); an unknown value is a 400. The
  simulated sources honour the domain filter, and their dates the recency window.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .answers import count_tokens, text_of

CACHE_MIN_TOKENS = 1024
CACHE_TTL_S = 300.0
RECENCY = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
           "month": timedelta(days=30), "year": timedelta(days=365)}
CONTEXT_SIZES = ("low", "medium", "high")
MAX_DOMAINS = 20


def marker_problem(messages: Any) -> str | None:
    """Why an OpenAI-wire provider rejects these messages (a ``cache_control`` marker), or None."""
    if not isinstance(messages, list):
        return None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        parts: list[Any] = content if isinstance(content, list) else []
        if "cache_control" in message or any(isinstance(p, dict) and "cache_control" in p for p in parts):
            return f"'messages.{i}' : property 'cache_control' is unsupported"
    return None


@dataclass(frozen=True, slots=True)
class CacheUse:
    """How a request's input tokens split between Anthropic's prompt cache and the rest."""

    input_tokens: int
    created: int = 0
    read: int = 0


@dataclass
class PromptCache:
    """The prefixes one simulated Anthropic has cached, each until it expires."""

    clock: Any = time.monotonic
    _entries: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, model: str, system: Any, messages: Any) -> CacheUse | str:
        """The request's token split, or a message saying why the marker is invalid (a 400)."""
        blocks = system if isinstance(system, list) else []
        marked = [i for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b]
        for i in marked:
            if blocks[i]["cache_control"] != {"type": "ephemeral"}:
                return f"system.{i}.cache_control: only type 'ephemeral' is supported"
        total = count_tokens(text_of(system)) if system is not None else 0
        total += sum(count_tokens(text_of(m.get("content"))) for m in messages if isinstance(m, dict))
        if not marked:
            return CacheUse(total)
        prefix = " ".join(text_of([b]) for b in blocks[: marked[-1] + 1])
        tokens = count_tokens(prefix)
        if tokens < CACHE_MIN_TOKENS:
            return CacheUse(total)  # too short to cache: processed without caching, as Anthropic documents
        key = hashlib.sha256(f"{model}\x1f{prefix}".encode()).hexdigest()
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key, 0.0) > now
            self._entries[key] = now + CACHE_TTL_S  # a read refreshes the entry's lifetime
        return CacheUse(total - tokens, read=tokens) if hit else CacheUse(total - tokens, created=tokens)


@dataclass(frozen=True, slots=True)
class Search:
    """Perplexity's search options of one request."""

    domains: tuple[str, ...] = ()
    recency: str | None = None
    context_size: str = "low"

    def sources(self, query: str) -> list[tuple[str, str]]:
        """(url, date) of the simulated sources: on the allowed domains, dated within the recency window."""
        digest = hashlib.sha256(query.encode("utf-8")).hexdigest()[:12]
        allowed = [d for d in self.domains if not d.startswith("-")] or ["example.com"]
        today = datetime(2025, 1, 1, tzinfo=UTC)
        date = (today - RECENCY[self.recency] / 2) if self.recency else today - timedelta(days=400)
        return [(f"https://{allowed[(i - 1) % len(allowed)]}/simulated/{digest}/{i}", date.date().isoformat())
                for i in (1, 2)]


def read_search(payload: dict[str, Any]) -> Search | str:
    """The request's search options, or a message saying which one is invalid (a 400)."""
    recency = payload.get("search_recency_filter")
    if recency is not None and recency not in RECENCY:
        return f"search_recency_filter must be one of {', '.join(RECENCY)}"
    domains = payload.get("search_domain_filter")
    if domains is not None and (not isinstance(domains, list) or len(domains) > MAX_DOMAINS
                                or not all(isinstance(d, str) and d for d in domains)):
        return f"search_domain_filter must be a list of at most {MAX_DOMAINS} domains"
    options = payload.get("web_search_options")
    size = options.get("search_context_size", "low") if isinstance(options, dict) else (
        "low" if options is None else None)
    if size not in CONTEXT_SIZES:
        return f"web_search_options.search_context_size must be one of {', '.join(CONTEXT_SIZES)}"
    return Search(tuple(domains or ()), recency, str(size))
