"""Model names without a provider (``gpt-4o``, ``claude-sonnet-4-5``), as users of other gateways write them.

A bare name goes to the provider that serves it. Which providers serve a model is read from data:
each provider's chat and embedding models (with ``<P>_MODEL`` overrides), the models the role chains
name for it, and the maintained price tables (``genai-prices``), which list most providers' models.
When several providers serve the name, the configured one wins; several configured ones make the
name ambiguous, and the error lists the choices.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidRequestError, UnknownModelError
from app.core.keys import resolve_credential
from app.core.pricing import cost_usd
from app.core.providers import PROVIDERS
from app.core.role_chains import ROLE_CHAINS


def _named_models(settings: Any, provider: str) -> set[str]:
    ps = settings.provider(PROVIDERS[provider])
    names = {ps.chat_model, ps.embedding_model}
    chains = [*ROLE_CHAINS.values(), *(getattr(settings, "role_chains", None) or {}).values()]
    names.update(entry.partition("/")[2] for chain in chains for entry in chain
                 if entry.partition("/")[0] == provider)
    return {n.lower() for n in names if n}


def providers_serving(model: str, settings: Any) -> list[str]:
    """The providers that serve ``model``, in catalog order."""
    wanted = model.lower()
    return [name for name in PROVIDERS
            if wanted in _named_models(settings, name) or cost_usd(name, model, 1, 1) is not None]


def bare_model_target(model: str, settings: Any) -> str:
    """``provider/model`` for a model named without its provider.

    Raises ``UnknownModelError`` when no provider serves it, and ``InvalidRequestError`` listing the
    choices when several configured providers (or, with none configured, several providers) serve it.
    """
    serving = providers_serving(model, settings)
    if not serving:
        raise UnknownModelError(model, known=PROVIDERS)
    configured = [p for p in serving
                  if resolve_credential(settings.provider(PROVIDERS[p]), hosted=settings.hosted).configured]
    choices = configured or serving
    if len(choices) > 1:
        options = " or ".join(f"'{p}/{model}'" for p in choices)
        state = "configured providers" if configured else "providers (none configured)"
        raise InvalidRequestError(f"model {model!r} is served by several {state}: "
                                  f"{', '.join(choices)}; name one: {options}")
    return f"{choices[0]}/{model}"
