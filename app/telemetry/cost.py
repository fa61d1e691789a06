"""A call's cost, computed once: telemetry and analytics both observe every call, and a price
lookup costs about a millisecond of CPU, so the second observer gets the first one's answer."""

from __future__ import annotations

from functools import lru_cache

from app.core.pricing import cost_usd


@lru_cache(maxsize=4096)
def call_cost(provider: str, model: str, prompt_tokens: int, completion_tokens: int, cache_read_tokens: int = 0,
              cache_write_tokens: int = 0) -> float | None:
    """``cost_usd`` of a call, remembered for the next observer of the same call; None when unpriced.

    ``prompt_tokens`` leaves out the prompt-cache tokens, as the gateway reports Anthropic's usage.
    """
    return cost_usd(provider, model, prompt_tokens + cache_read_tokens + cache_write_tokens, completion_tokens,
                    cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens)
