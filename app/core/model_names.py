"""The ``model`` field: ``<provider>/<model>``, ``<domain>/<role>`` (a role's strategy), ``route/<name>``
or a bare model name (``gpt-4o``: the provider that serves it, see ``app.core.model_catalog``).

Model ids may contain slashes themselves (Together's ``meta-llama/Llama-3.3-70B-Instruct-Turbo``),
so only the first slash separates the provider. Roles and routes come from the routing policy (the
built-in roles plus ``SOPHIA_ROUTING_FILE``). Shared by the service and ``sophia ask``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidRequestError, UnknownProviderError
from app.core.model_catalog import bare_model_target
from app.core.providers import PROVIDERS, get_provider
from app.routing import RoutingPolicy
from app.routing.policy import DOMAINS

ROUTE_PREFIX = "route"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """The manager's arguments for a ``model`` name."""

    provider: str | None
    """What the manager gets as ``provider``: ``name`` or ``name/model``; None for a role or a route."""
    metadata: dict[str, str] = field(default_factory=dict)
    role: str | None = None
    """``domain/role`` when the name is a role."""
    route: str | None = None
    """The route's name when the name is ``route/<name>``."""

    def call(self, fallbacks: list[str] | None = None) -> dict[str, Any]:
        """The manager's keyword arguments; ``fallbacks`` (a caller's override; None: the provider's default
        fallbacks) only applies to a provider."""
        if self.provider is None:
            if fallbacks is not None:
                raise InvalidRequestError("fallbacks applies to a provider model; a role's or a route's targets "
                                          "come from its strategy in the routing file")
            return {"role": self.role} if self.role else {"route": self.route}
        return {"provider": self.provider, "fallbacks": fallbacks}


def resolve_model(name: Any, policy: RoutingPolicy, settings: Any = None) -> ModelRoute:
    """Route a ``<provider>/<model>``, ``<domain>/<role>``, ``route/<name>`` or bare model name.

    Raises ``InvalidRequestError`` for an empty name, an unknown role or route (listing the known
    ones) or an ambiguous bare model name; ``UnknownModelError`` for a name that is neither a provider
    nor a model the catalog knows (``UnknownProviderError`` without ``settings`` to resolve bare names);
    nothing is checked about keys yet.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError("model is required: '<provider>/<model>' (e.g. groq/llama-3.3-70b-versatile), "
                                  "'<domain>/<role>' (e.g. artemis/code_reviewer) or 'route/<name>'")
    name = name.strip()
    head, _, tail = name.partition("/")
    if head.lower() == ROUTE_PREFIX:
        return ModelRoute(None, route=policy.route(tail).name)
    if head.lower() in DOMAINS:
        role = policy.role(name)
        return ModelRoute(None, metadata={"domain": role.domain, "role": role.name}, role=role.key)
    try:
        get_provider(head)
    except UnknownProviderError:
        if settings is None:
            raise
        strategies = [r.strategy for r in policy.roles.values()] + [r.strategy for r in policy.routes.values()]
        targets = [t for strategy in strategies for t in strategy.targets]
        return ModelRoute(bare_model_target(name, settings, targets))  # gpt-4o, meta-llama/Llama-3.3-...
    return ModelRoute(name)


def list_models(router: Any, policy: RoutingPolicy) -> list[dict[str, Any]]:
    """OpenAI's model objects: every role, every route, then each provider's default models.

    Entries say whether they can be served now (``available``), so a client can tell a model
    it may call from one that would fail for want of a key.
    """
    configured = set(router.configured_providers())

    def available(targets: list[str]) -> bool:
        return any(t.partition("/")[0] in configured for t in targets)

    out: list[dict[str, Any]] = []
    for key, role in policy.roles.items():
        targets = role.strategy.targets
        out.append({"id": key, "object": "model", "created": 0, "owned_by": role.domain, "kind": "role",
                    "description": role.description, "chain": targets, "available": available(targets)})
    for name, route in policy.routes.items():
        targets = route.strategy.targets
        out.append({"id": f"{ROUTE_PREFIX}/{name}", "object": "model", "created": 0, "owned_by": "routing",
                    "kind": "route", "description": route.description, "chain": targets,
                    "available": available(targets)})
    for name, provider in PROVIDERS.items():
        ps = router.provider_settings(name)
        for model, kind in ((ps.chat_model, "chat"), (ps.embedding_model, "embedding")):
            if model:
                out.append({"id": f"{name}/{model}", "object": "model", "created": 0,
                            "owned_by": provider.display_name, "kind": kind, "available": name in configured})
    return out
