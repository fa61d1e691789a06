"""Provider prompt caching: mark a long system prompt so a provider that caches prefixes (Anthropic) reuses it.

Data-driven by the catalog (``Provider.prompt_caching``). The marker is a field of the message that
other providers' APIs reject, and one request body goes to every target of a chain, so messages are
only marked when every target of the chain understands the marker (an Anthropic-only route, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.core.routing import Chain


def mark_prompt_cache(chain: Chain, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages``, with ``cache_control`` on long system messages when the whole chain caches prompts."""
    caching = [c for c in (t.provider.prompt_caching for t in chain.targets) if c is not None]
    if not caching or len(caching) < len(chain.targets):
        return list(messages)
    marked = []
    for message in messages:
        content = message.get("content")
        needs = (message.get("role") in ("system", "developer") and isinstance(content, str)
                 and "cache_control" not in message and all(c.worth_marking(content) for c in caching))
        marked.append({**message, "cache_control": caching[0].marker} if needs else message)
    return marked
