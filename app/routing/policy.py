"""A loaded routing policy: the roles and routes of the routing file, and planning one request on them.

Immutable: a reload builds a new policy and swaps it in (``app.routing.holder``), so a request that
started on the old one finishes on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidRequestError
from app.core.routing import TargetSpec
from app.core.strategy import Group
from app.routing.nodes import (
    Complexity,
    Conditional,
    LoadBalance,
    PolicyNode,
    RequestView,
    resolve,
    target_labels,
    walk,
)
from app.routing.queries import referenced_fields
from app.routing.workflow_specs import WorkflowSpec

DOMAINS = ("artemis", "sophia")


def role_key(domain: str, role: str) -> str:
    """The ``domain/role`` key a role is known by (the role lower-cased), e.g. ``artemis/code_reviewer``."""
    return f"{domain}/{role.lower()}"


@dataclass(frozen=True, slots=True)
class Output:
    """The shape a role answers in: JSON with these keys, each with a description for the model."""

    fields: tuple[tuple[str, str], ...]

    def instructions(self) -> str:
        """The sentence appended to the role's system prompt."""
        keys = ", ".join(f'"{name}" ({description})' for name, description in self.fields)
        return f" Answer in JSON only, with the keys: {keys}."


@dataclass(frozen=True, slots=True)
class Strategy:
    """A named strategy (a role's or a route's) and whether planning it needs the classifier."""

    root: PolicyNode
    needs_complexity: bool = field(init=False)
    label_threshold: float | None = field(init=False)
    """The threshold of the first complexity strategy (None: the settings' default): it sets the label
    the request's metadata and result carry."""

    def __post_init__(self) -> None:
        nodes = walk(self.root)
        complexity = [n for n in nodes if isinstance(n, Complexity)]
        needs = bool(complexity) or any("metadata.complexity" in referenced_fields(json.loads(q))
                                        for n in nodes if isinstance(n, Conditional) for q in n.queries)
        object.__setattr__(self, "needs_complexity", needs)
        object.__setattr__(self, "label_threshold", complexity[0].threshold if complexity else None)

    @property
    def targets(self) -> list[str]:
        """Every target of the strategy (``provider/model``), in order."""
        return target_labels(self.root)

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants of its first loadbalance (an experiment's arms, the control first); () if none."""
        return next((n.names for n in walk(self.root) if isinstance(n, LoadBalance)), ())


@dataclass(frozen=True, slots=True)
class Role:
    """An agent role: its domain and name, prompt, answer shape and strategy."""

    domain: str
    name: str
    description: str
    system_prompt: str
    """May hold ``{name}`` and ``{focus}`` (the agent's name and specialty or business domain)."""
    strategy: Strategy
    output: Output | None = None
    grounded: bool = False
    """Its agents answer from the document store: the chunks closest to the question join the prompt."""

    @property
    def key(self) -> str:
        """``domain/name``, e.g. ``artemis/code_reviewer``."""
        return role_key(self.domain, self.name)

    def prompt_for(self, agent_name: str, focus: str, default_output: Output | None = None, *,
                   shaped: bool = True) -> str:
        """The system prompt of an agent of this role (``{name}``/``{focus}`` filled, answer shape appended
        unless ``shaped`` is false: a workflow step asks for a shape of its own)."""
        text = self.system_prompt.replace("{name}", agent_name).replace("{focus}", focus.replace("_", " "))
        output = (self.output or default_output) if shaped else None
        return text + (output.instructions() if output is not None else "")


@dataclass(frozen=True, slots=True)
class Route:
    """A named strategy callable without a role: ``route="<name>"``, ``model: "route/<name>"``."""

    name: str
    description: str
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """One request's strategy tree to send, and what was decided before sending it."""

    requested: Group[TargetSpec]
    route: str | None
    complexity: str | None
    metadata: dict[str, str]
    """What planning adds to the request's metadata (``complexity``)."""


@dataclass(frozen=True)
class RoutingPolicy:
    """Roles and routes, as loaded from the built-in routing file and ``SOPHIA_ROUTING_FILE``."""

    roles: Mapping[str, Role]
    routes: Mapping[str, Route]
    version: str
    """A short digest of what was loaded: changes whenever the effective policy does."""
    source: str
    """Where it came from (``built-in`` or ``built-in + /path/routing.yaml``)."""
    workflows: Mapping[str, WorkflowSpec] = field(default_factory=dict)
    """The file's multi-agent workflows (``workflows:``), as data; ``app.workflows`` runs them."""

    def role(self, key: str) -> Role:
        """The role ``domain/name``; raises ``InvalidRequestError`` listing the domain's roles."""
        domain, _, name = key.strip().lower().partition("/")
        found = self.roles.get(f"{domain}/{name}")
        if found is None:
            known = ", ".join(r.name for r in self.roles_of(domain)) if domain in DOMAINS else ""
            hint = f"; {domain} roles: {known}" if known else f"; domains are {', '.join(DOMAINS)}"
            raise InvalidRequestError(f"unknown role {key!r}{hint}")
        return found

    def roles_of(self, domain: str) -> list[Role]:
        """The roles of ``domain``, in file order."""
        return [r for r in self.roles.values() if r.domain == domain]

    def experiments(self) -> dict[str, tuple[str, ...]]:
        """Every route and role with a loadbalance (an A/B test), and its variants."""
        named = [*((k, r.strategy) for k, r in self.routes.items()), *((k, r.strategy) for k, r in self.roles.items())]
        return {name: strategy.variants for name, strategy in named if strategy.variants}

    def route(self, name: str) -> Route:
        """The route ``name``; raises ``InvalidRequestError`` listing the known routes."""
        found = self.routes.get(name)
        if found is None:
            known = ", ".join(self.routes) or "none (define them under routes: in SOPHIA_ROUTING_FILE)"
            raise InvalidRequestError(f"unknown route {name!r}; routes: {known}")
        return found


def plan(strategy: Strategy, route: str | None, messages: Sequence[Mapping[str, Any]],
         metadata: Mapping[str, str] | None, params: Mapping[str, Any],
         classify: Callable[[Sequence[Mapping[str, Any]]], float], default_threshold: float) -> RoutePlan:
    """What to send for one request on ``strategy``: the tree, and the decisions taken on the way."""
    view = RequestView(metadata or {}, params, lambda: classify(messages), default_threshold)
    decisions: dict[str, str] = {}
    if strategy.needs_complexity:
        decisions["complexity"] = view.label(strategy.label_threshold)
    resolved = resolve(strategy.root, view, decisions)
    requested = resolved if isinstance(resolved, Group) else Group("fallback", (resolved,))
    complexity = decisions.get("complexity")
    return RoutePlan(requested, route, complexity, {"complexity": complexity} if complexity else {})
