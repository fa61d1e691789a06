"""Model names without a provider (``gpt-4o``, ``claude-sonnet-4-5``), as users of other gateways write them.

A bare name goes to the provider that serves it. Which providers serve a model is read from data:
each provider's chat and embedding models (with ``<P>_MODEL`` overrides), the models the routing
policy's roles and routes name for it, and the maintained price tables (``genai-prices``), which list most providers' models.
When several providers serve the name, the configured one wins; several configured ones make the
name ambiguous, and the error lists the choices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.core.errors import InvalidRequestError, UnknownModelError
from app.core.keys import resolve_credential
from app.core.pricing import cost_usd
from app.core.providers import PROVIDERS


def _named_models(settings: Any, provider: str, targets: Iterable[str]) -> set[str]:
    ps = settings.provider(PROVIDERS[provider])
    names = {ps.chat_model, ps.embedding_model}
    names.update(label.partition("/")[2] for label in targets if label.partition("/")[0] == provider)
    return {n.lower() for n in names if n}


def providers_serving(model: str, settings: Any, targets: Iterable[str] = ()) -> list[str]:
    """The providers that serve ``model``, in catalog order; ``targets`` (``provider/model`` labels,
    e.g. every target of the routing policy) name more models."""
    wanted, targets = model.lower(), list(targets)
    return [name for name in PROVIDERS
            if wanted in _named_models(settings, name, targets) or cost_usd(name, model, 1, 1) is not None]


def bare_model_target(model: str, settings: Any, targets: Iterable[str] = ()) -> str:
    """``provider/model`` for a model named without its provider.

    Raises ``UnknownModelError`` when no provider serves it, and ``InvalidRequestError`` listing the
    choices when several configured providers (or, with none configured, several providers) serve it.
    """
    serving = providers_serving(model, settings, targets)
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
