"""From "provider X, model Y, fallbacks Z" to one Portkey config the gateway runs in one round trip.

A chain is the list of targets a request may be served by, arranged by a strategy tree
(``app.core.strategy``: a fallback over them in order, unless a routing policy nests fallback,
loadbalance and conditional strategies). Providers without a credential are left out (with one
warning per provider per process); a chain left empty fails before any network call, naming the
variables to set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from app.core.errors import InvalidRequestError, ProviderNotConfiguredError
from app.core.keys import Credential, KeyKind, Resolution, resolve_credential
from app.core.providers import DEFAULT_FALLBACKS, PROVIDERS, Provider, get_provider
from app.core.settings import ProviderSettings
from app.core.strategy import (
    Group,
    deferring,
    fallback_over,
    fields_read,
    leaf_at,
    leaves,
    map_leaves,
    numbered,
    reached_by_fallback,
    remaining_after,
    to_portkey,
    variant_of,
)

log = logging.getLogger("app.routing")

# The gateway retries these on the same target before falling back (its own default set).
RETRY_ON_STATUS = (429, 500, 502, 503, 504)
MAX_TOKENS = frozenset({"max_tokens", "max_completion_tokens"})


class Capability(str, Enum):
    """What a chain is built for; it picks the default model (chat or embedding)."""

    CHAT = "chat"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class Target:
    """One entry of a chain: a provider, the model to ask for, the key to send and where to send it."""

    provider: Provider
    model: str
    credential: Credential
    base_url: str
    custom_host: str | None
    """Only set when the provider's base URL is overridden (a proxy or a simulator)."""
    params: str | None = None
    """Canonical JSON of parameters this target adds to the request (``override_params``), or None."""

    @property
    def label(self) -> str:
        """``provider/model``, as attempts and messages name a target."""
        return f"{self.provider.name}/{self.model}"

    @property
    def param_names(self) -> frozenset[str]:
        """The names of the parameters this target adds."""
        return frozenset(json.loads(self.params)) if self.params else frozenset()

    def to_portkey(self, *, retries: int, timeout_ms: int, present: frozenset[str] = MAX_TOKENS) -> dict[str, Any]:
        """This target as an entry of a Portkey config's ``targets`` (it contains the secret).

        ``present`` names the parameters the request sets itself: the target's own parameters
        never override those, and a provider that requires ``max_tokens`` gets its default only
        when the request sets none.
        """
        secret = self.credential.secret.get_secret_value()
        if self.credential.kind is KeyKind.VIRTUAL_KEY:
            entry: dict[str, Any] = {"virtual_key": secret}
        else:
            entry = {"provider": self.provider.slug, "api_key": secret}
        if self.custom_host:
            entry["custom_host"] = self.custom_host
        override: dict[str, Any] = {"model": self.model}
        if self.params:
            override.update((k, v) for k, v in json.loads(self.params).items() if k not in present)
        if not present & MAX_TOKENS and "max_tokens" not in override and self.provider.default_max_tokens:
            override["max_tokens"] = self.provider.default_max_tokens
        entry["override_params"] = override
        entry["request_timeout"] = timeout_ms
        if retries > 0:
            entry["retry"] = {"attempts": retries, "on_status_codes": list(RETRY_ON_STATUS)}
        return entry


@dataclass(frozen=True, slots=True)
class Chain:
    """The targets a request may be served by, how they are arranged, and the requested providers left out."""

    targets: tuple[Target, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    """(provider, reason) for each requested provider that was left out."""
    tree: Group[int] | None = None
    """The strategy over the targets (leaves are their indexes); None: a fallback over them in order."""
    positions: tuple[int, ...] | None = None
    """Each target's number in the chain the call started with; None: 0, 1, 2..."""

    @property
    def primary(self) -> Target:
        """The target tried first (in a loadbalance or a conditional: the first listed)."""
        return self.targets[0]

    @property
    def strategy(self) -> Group[int]:
        """The strategy tree, also for a plain chain (a fallback over its targets)."""
        return self.tree if self.tree is not None else fallback_over(len(self.targets))

    def position(self, index: int) -> int:
        """The number, in the chain the call started with, of this chain's target ``index``."""
        return self.positions[index] if self.positions is not None else index

    def index_at(self, served_path: str) -> int | None:
        """The target a gateway path (``config.targets[1].targets[0]``) names; None if none."""
        return leaf_at(self.strategy, served_path)

    def fallback_used(self, index: int) -> bool:
        """True when target ``index`` serves only because something before it failed."""
        return index > 0 if self.tree is None else reached_by_fallback(self.tree, index)

    def variant(self, index: int) -> str | None:
        """The loadbalance variant target ``index`` belongs to (the outermost one); None if none."""
        return None if self.tree is None else variant_of(self.tree, index)

    def after(self, index: int) -> Chain:
        """What remains once target ``index`` failed where the gateway could not go on (may be empty)."""
        if self.tree is None:
            rest = range(index + 1, len(self.targets))
            return Chain(tuple(self.targets[i] for i in rest), self.skipped,
                         positions=tuple(self.position(i) for i in rest))
        remaining = remaining_after(self.tree, index)
        if remaining is None:
            return Chain((), self.skipped, positions=())
        tree, kept = numbered(remaining)
        return Chain(tuple(self.targets[i] for i in kept), self.skipped, tree,
                     tuple(self.position(i) for i in kept))

    def deferring(self, open_labels: frozenset[str]) -> Chain:
        """This chain with the targets whose circuit is open (``provider/model`` labels) tried last: a plain
        chain's in order after the others, a tree's as ``app.core.strategy.deferring`` says. Each target
        keeps its number in the call's chain."""
        if not open_labels:
            return self
        count = len(self.targets)
        if self.tree is None:
            order = [i for i in range(count) if self.targets[i].label not in open_labels] + [
                i for i in range(count) if self.targets[i].label in open_labels]
            return Chain(tuple(self.targets[i] for i in order), self.skipped,
                         positions=tuple(self.position(i) for i in order))
        tree, kept = numbered(deferring(self.tree, lambda i: self.targets[i].label in open_labels))
        return Chain(tuple(self.targets[i] for i in kept), self.skipped, tree, tuple(self.position(i) for i in kept))

    @property
    def param_names(self) -> frozenset[str]:
        """Every parameter some target adds to the request."""
        return frozenset().union(*(t.param_names for t in self.targets))

    def cache_identity(self, metadata: Mapping[str, Any] | None) -> list[tuple[str, str]]:
        """What about the chain changes the answer, for cache keys: its (provider, model) pairs, plus, for
        a strategy tree or targets with parameters, one ``("strategy", json)`` pair holding the tree,
        the parameters and the metadata values its conditionals read (a cached answer of one branch
        must not serve a request the rules send to another)."""
        pairs = [(t.provider.name, t.model) for t in self.targets]
        if self.tree is None and not any(t.params for t in self.targets):
            return pairs
        read = sorted(f for f in fields_read(self.strategy) if f.startswith("metadata."))
        detail = {"tree": repr(self.strategy), "params": [t.params for t in self.targets],
                  "metadata": {f: (metadata or {}).get(f.partition(".")[2]) for f in read}}
        return [*pairs, ("strategy", json.dumps(detail, sort_keys=True, default=str))]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """What a caller asked for: a provider and optionally a model."""

    provider: Provider
    model: str | None = None
    params: str | None = None
    """Canonical JSON of parameters added when this target serves (``override_params``), or None."""

    @property
    def label(self) -> str:
        """``provider/model`` (``provider`` alone when no model is named)."""
        return f"{self.provider.name}/{self.model}" if self.model else self.provider.name

    @classmethod
    def parse(cls, item: Any) -> TargetSpec:
        """Read ``provider``, ``provider/model``, ``(provider, model)`` or ``{'provider', 'model'}``.

        Raises ``InvalidRequestError`` for anything else, ``UnknownProviderError`` for an unknown provider.
        """
        if isinstance(item, TargetSpec):
            return item
        if isinstance(item, Provider):
            return cls(item)
        if isinstance(item, dict):
            if "provider" not in item:
                raise InvalidRequestError(f"fallback entry {item!r} has no 'provider'")
            return cls(get_provider(str(item["provider"])), item.get("model") or None)
        if isinstance(item, tuple) and len(item) == 2:
            return cls(get_provider(str(item[0])), item[1] or None)
        if isinstance(item, str) and item.strip():
            head, sep, tail = item.strip().partition("/")
            return cls(get_provider(head), tail if sep and tail else None)
        raise InvalidRequestError(
            f"cannot read {item!r} as a target: use 'provider', 'provider/model' or "
            "{'provider': ..., 'model': ...}"
        )


class Router:
    """Builds chains from settings. One per manager; it holds no per-request state."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._provider_settings: dict[str, ProviderSettings] = {
            name: settings.provider(p) for name, p in PROVIDERS.items()
        }
        self.resolutions: dict[str, Resolution] = {
            name: resolve_credential(ps, hosted=settings.hosted)
            for name, ps in self._provider_settings.items()
        }
        self._warned: set[str] = set()

    def provider_settings(self, name: str) -> ProviderSettings:
        """The settings of provider ``name`` (a catalog name)."""
        return self._provider_settings[name]

    def configured_providers(self, capability: Capability = Capability.CHAT) -> list[str]:
        """Names of the providers with a usable key (and an embedding model, for embeddings)."""
        return [
            name for name, r in self.resolutions.items()
            if r.configured and (capability is Capability.CHAT or self._provider_settings[name].embedding_model)
        ]

    def default_model(self, provider: Provider, capability: Capability) -> str | None:
        """The model a target of ``provider`` uses when the caller names none; None if it has no such API."""
        ps = self._provider_settings[provider.name]
        return ps.chat_model if capability is Capability.CHAT else ps.embedding_model

    def requested(self, provider: Any, model: str | None, fallbacks: Sequence[Any] | None) -> list[TargetSpec]:
        """What the caller asked for, primary first; ``fallbacks=None`` means the provider's default ones.

        Only the primary when ``ENABLE_FALLBACK`` is off.
        """
        primary = TargetSpec.parse(provider)
        if model:
            primary = TargetSpec(primary.provider, model)
        if not self.settings.enable_fallback:
            return [primary]
        if fallbacks is None:
            rest = [TargetSpec(get_provider(n)) for n in DEFAULT_FALLBACKS.get(primary.provider.name, ())]
        else:
            if isinstance(fallbacks, (str, bytes)):
                raise InvalidRequestError("fallbacks must be a list, e.g. ['anthropic', 'deepseek/deepseek-chat']")
            rest = [TargetSpec.parse(f) for f in fallbacks]
        return [primary, *rest]

    def build(self, specs: Sequence[TargetSpec], capability: Capability = Capability.CHAT) -> Chain:
        """The chain for ``specs``, a fallback in that order: unconfigured providers left out, duplicates dropped.

        Raises ``ProviderNotConfiguredError``, naming the variables to set, when nothing is left.
        """
        targets: list[Target] = []
        skipped: list[tuple[str, str]] = []
        for spec in specs:
            target = self._target(spec, capability, skipped)
            if target is not None and target not in targets:
                targets.append(target)
        if not targets:
            raise self._nothing_configured(specs, skipped)
        return Chain(tuple(targets), tuple(skipped))

    def build_tree(self, requested: Group[TargetSpec], capability: Capability = Capability.CHAT) -> Chain:
        """The chain for a strategy tree of targets (a routing policy's), unconfigured providers left out
        of it (see ``app.core.strategy.map_leaves``); raises ``ProviderNotConfiguredError`` when nothing is left."""
        skipped: list[tuple[str, str]] = []
        pruned = map_leaves(requested, lambda spec: self._target(spec, capability, skipped))
        if pruned is None:
            raise self._nothing_configured(leaves(requested), skipped)
        tree, targets = numbered(pruned)
        return Chain(tuple(targets), tuple(skipped), tree)

    def _target(self, spec: TargetSpec, capability: Capability, skipped: list[tuple[str, str]]) -> Target | None:
        name = spec.provider.name
        resolution = self.resolutions[name]
        model = spec.model or self.default_model(spec.provider, capability)
        if model is None:
            skipped.append((name, f"{spec.provider.display_name} has no embeddings API"))
            return None
        if resolution.credential is None:
            skipped.append((name, resolution.reason))
            self._warn_once(name, resolution)
            return None
        ps = self._provider_settings[name]
        return Target(
            provider=spec.provider, model=model, credential=resolution.credential, base_url=ps.base_url,
            custom_host=spec.provider.custom_host(ps.base_url) if ps.base_url_overridden else None,
            params=spec.params,
        )

    def _nothing_configured(self, specs: Sequence[TargetSpec],
                            skipped: list[tuple[str, str]]) -> ProviderNotConfiguredError:
        env_vars: list[str] = []
        for spec in specs:
            for var in self.resolutions[spec.provider.name].env_vars:
                if var not in env_vars:
                    env_vars.append(var)
        return ProviderNotConfiguredError([s.provider.name for s in specs], env_vars,
                                          [f"{n}: {r}" for n, r in skipped])

    def _warn_once(self, name: str, resolution: Resolution) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("provider %s left out of chains: %s", name, resolution.reason)

    def portkey_config(self, chain: Chain, body: Mapping[str, Any] | None = None, *,
                       timeout_ms: int | None = None) -> str:
        """The ``x-portkey-config`` header value for ``chain`` (cached: chains repeat).

        ``body`` is the request: parameters it sets are never overridden by a target's own, and
        providers whose API requires ``max_tokens`` get a default when it sets none; ``timeout_ms`` is
        each target's ``request_timeout`` (default: REQUEST_TIMEOUT).
        """
        if timeout_ms is None:
            timeout_ms = int(self.settings.request_timeout * 1000)
        present = MAX_TOKENS if body is None else frozenset(k for k in body if k in MAX_TOKENS or k in
                                                             chain.param_names)
        return _compile(chain.targets, chain.strategy, self.settings.max_retries, timeout_ms, present)


@lru_cache(maxsize=512)
def _compile(targets: tuple[Target, ...], tree: Group[int], retries: int, timeout_ms: int,
             present: frozenset[str]) -> str:
    config = to_portkey(tree, lambda i: targets[i].to_portkey(retries=retries, timeout_ms=timeout_ms,
                                                              present=present))
    return json.dumps(config, separators=(",", ":"))
