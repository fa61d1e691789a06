"""Cost of a call from its token usage, using the maintained ``genai-prices`` tables.

None when the model has no price entry (a fine-tune, a new model, a simulator's made-up id):
an unknown cost is reported as unknown, never as zero.
"""

from __future__ import annotations

from functools import lru_cache


# Our provider names are genai-prices' provider ids. A miss (LookupError) scans every pattern of the
# table, so whether a model is priced is remembered: unpriced models cost one scan per process.
@lru_cache(maxsize=256)
def _known(provider: str, model: str) -> bool:
    return cost_usd(provider, model, 1, 1, check=False) is not None


def cost_usd(provider: str, model: str, input_tokens: int, output_tokens: int, *, check: bool = True
             ) -> float | None:
    """The call's cost in US dollars, or None when the model has no price entry.

    ``check=False`` skips the remembered-miss shortcut (used to fill it).
    """
    if check and not _known(provider, model):
        return None
    from genai_prices import Usage, calc_price  # 0.3 s to import: load on first priced call

    try:
        price = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model_ref=model,
                           provider_id=provider)
    except LookupError:
        return None
    return float(price.total_price)
