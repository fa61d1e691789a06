"""Cost of a call from its token usage, using the maintained ``genai-prices`` tables.

None when the model has no price entry (a fine-tune, a new model, a simulator's made-up id):
an unknown cost is reported as unknown, never as zero.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


# Our provider names are genai-prices' provider ids. A miss (LookupError) scans every pattern of the
# table, so whether a model is priced is remembered: unpriced models cost one scan per process.
@lru_cache(maxsize=256)
def _known(provider: str, model: str) -> bool:
    return cost_usd(provider, model, 1, 1, check=False) is not None


def cost_usd(provider: str, model: str, input_tokens: int, output_tokens: int, *, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0, check: bool = True) -> float | None:
    """The call's cost in US dollars, or None when the model has no price entry.

    ``input_tokens`` counts every input token, cached ones included; those read from or written to a
    provider's prompt cache (``cache_read_tokens``, ``cache_write_tokens``) are priced at the cache's rates.
    ``check=False`` skips the remembered-miss shortcut (used to fill it).
    """
    if check and not _known(provider, model):
        return None
    from genai_prices import Usage, calc_price  # 0.3 s to import: load on first priced call

    try:
        price = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                                 cache_read_tokens=cache_read_tokens or None,
                                 cache_write_tokens=cache_write_tokens or None),
                           model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return float(price.total_price)


def load_price_tables() -> None:
    """Build genai-prices' tables now rather than on the first priced call (0.2-0.3 s, about 40,000
    objects): a service does it while it starts, so that its first request does not wait for them and
    they are among what start-up leaves for ``app.service.collector`` to freeze."""
    from genai_prices.data_snapshot import get_snapshot

    get_snapshot()


def cache_tokens(usage: Any) -> tuple[int, int]:
    """(read, written) prompt-cache tokens of a usage, as Anthropic reports them through the gateway
    (``cache_read_input_tokens``, ``cache_creation_input_tokens``, next to a ``prompt_tokens`` that
    leaves them out); (0, 0) when the provider reported none."""
    extra = getattr(usage, "model_extra", None) or {}
    read, written = extra.get("cache_read_input_tokens"), extra.get("cache_creation_input_tokens")
    return (read if isinstance(read, int) else 0), (written if isinstance(written, int) else 0)


def usage_cost(provider: str, model: str, usage: Any) -> float | None:
    """``cost_usd`` of a call's usage (prompt-cache tokens priced as such); None when unpriced."""
    read, written = cache_tokens(usage)
    return cost_usd(provider, model, usage.prompt_tokens + read + written, usage.completion_tokens,
                    cache_read_tokens=read, cache_write_tokens=written)
