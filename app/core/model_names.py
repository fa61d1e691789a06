"""The ``model`` field: ``<provider>/<model>``, ``<domain>/<role>`` (a role's whole chain) or a bare
model name (``gpt-4o``: the provider that serves it, see ``app.core.model_catalog``).

Model ids may contain slashes themselves (Together's ``meta-llama/Llama-3.3-70B-Instruct-Turbo``),
so only the first slash separates the provider. Shared by the service and ``sophia ask``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidRequestError, UnknownProviderError
from app.core.model_catalog import bare_model_target
from app.core.providers import PROVIDERS, get_provider
from app.core.role_chains import ROLE_CHAINS, chain_for

DOMAINS = ("artemis", "sophia")


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """The manager's arguments for a ``model`` name: provider, fallbacks and call metadata."""

    provider: str
    """What the manager gets as ``provider``: ``name`` or ``name/model``."""
    fallbacks: list[str] | None
    """None: the manager's default fallbacks for that provider."""
    metadata: dict[str, str] = field(default_factory=dict)


def resolve_model(name: Any, settings: Any) -> ModelRoute:
    """Route a ``<provider>/<model>``, ``<domain>/<role>`` or bare model name.

    Raises ``InvalidRequestError`` for an empty or unknown role name or an ambiguous bare model name,
    ``UnknownModelError`` for a name that is neither a provider nor a model the catalog knows; nothing
    is checked about keys yet.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError("model is required: '<provider>/<model>' (e.g. groq/llama-3.3-70b-versatile) "
                                  "or '<domain>/<role>' (e.g. artemis/code_reviewer)")
    name = name.strip()
    head, _, tail = name.partition("/")
    if head.lower() in DOMAINS:
        key = f"{head.lower()}/{tail.lower()}"
        if key not in ROLE_CHAINS:
            roles = ", ".join(k for k in ROLE_CHAINS if k.startswith(head.lower() + "/"))
            raise InvalidRequestError(f"unknown role model {name!r}; {head.lower()} roles: {roles}")
        first, *rest = chain_for(head.lower(), tail.lower(), getattr(settings, "role_chains", None) or {})
        return ModelRoute(first, rest, {"domain": head.lower(), "role": tail.lower()})
    try:
        get_provider(head)
    except UnknownProviderError:
        return ModelRoute(bare_model_target(name, settings), None)  # gpt-4o, meta-llama/Llama-3.3-...
    return ModelRoute(name, None)


def list_models(router: Any) -> list[dict[str, Any]]:
    """OpenAI's model objects: every role model, then each provider's default models.

    Entries say whether they can be served now (``available``), so a client can tell a model
    it may call from one that would fail for want of a key.
    """
    configured = set(router.configured_providers())
    out: list[dict[str, Any]] = []
    for key, chain in ROLE_CHAINS.items():
        providers = [entry.partition("/")[0] for entry in chain]
        out.append({"id": key, "object": "model", "created": 0, "owned_by": key.partition("/")[0],
                    "kind": "role", "chain": list(chain), "available": any(p in configured for p in providers)})
    for name, provider in PROVIDERS.items():
        ps = router.provider_settings(name)
        for model, kind in ((ps.chat_model, "chat"), (ps.embedding_model, "embedding")):
            if model:
                out.append({"id": f"{name}/{model}", "object": "model", "created": 0,
                            "owned_by": provider.display_name, "kind": kind, "available": name in configured})
    return out
