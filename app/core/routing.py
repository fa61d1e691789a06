"""From "provider X, model Y, fallbacks Z" to one Portkey config the gateway runs in one round trip.

A chain is the ordered list of targets a request may be served by. Providers without a credential
are left out (with one warning per provider per process); a chain left empty fails before any
network call, naming the variables to set.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from app.core.errors import InvalidRequestError, ProviderNotConfiguredError
from app.core.keys import Credential, KeyKind, Resolution, resolve_credential
from app.core.providers import DEFAULT_FALLBACKS, PROVIDERS, Provider, get_provider
from app.core.settings import ProviderSettings

log = logging.getLogger("app.routing")

# The gateway retries these on the same target before falling back (its own default set).
RETRY_ON_STATUS = (429, 500, 502, 503, 504)


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

    @property
    def label(self) -> str:
        """``provider/model``, as attempts and messages name a target."""
        return f"{self.provider.name}/{self.model}"

    def to_portkey(self, *, retries: int, timeout_ms: int, fill_max_tokens: bool = False) -> dict[str, Any]:
        """This target as an entry of a Portkey config's ``targets`` (it contains the secret)."""
        secret = self.credential.secret.get_secret_value()
        if self.credential.kind is KeyKind.VIRTUAL_KEY:
            entry: dict[str, Any] = {"virtual_key": secret}
        else:
            entry = {"provider": self.provider.slug, "api_key": secret}
        if self.custom_host:
            entry["custom_host"] = self.custom_host
        entry["override_params"] = {"model": self.model}
        if fill_max_tokens and self.provider.default_max_tokens:
            entry["override_params"]["max_tokens"] = self.provider.default_max_tokens
        entry["request_timeout"] = timeout_ms
        if retries > 0:
            entry["retry"] = {"attempts": retries, "on_status_codes": list(RETRY_ON_STATUS)}
        return entry


@dataclass(frozen=True, slots=True)
class Chain:
    """The targets a request may be served by, in order, and the requested providers left out."""

    targets: tuple[Target, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    """(provider, reason) for each requested provider that was left out."""

    @property
    def primary(self) -> Target:
        """The target tried first."""
        return self.targets[0]

    def after(self, index: int) -> Chain:
        """The chain that remains once targets up to ``index`` have been used."""
        return Chain(self.targets[index + 1:], self.skipped)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """What a caller asked for: a provider and optionally a model."""

    provider: Provider
    model: str | None = None

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
        """The chain for ``specs``: unconfigured providers left out, duplicates dropped.

        Raises ``ProviderNotConfiguredError``, naming the variables to set, when nothing is left.
        """
        targets: list[Target] = []
        skipped: list[tuple[str, str]] = []
        for spec in specs:
            name = spec.provider.name
            resolution = self.resolutions[name]
            model = spec.model or self.default_model(spec.provider, capability)
            if model is None:
                skipped.append((name, f"{spec.provider.display_name} has no embeddings API"))
                continue
            if resolution.credential is None:
                skipped.append((name, resolution.reason))
                self._warn_once(name, resolution)
                continue
            ps = self._provider_settings[name]
            target = Target(
                provider=spec.provider, model=model, credential=resolution.credential,
                base_url=ps.base_url,
                custom_host=spec.provider.custom_host(ps.base_url) if ps.base_url_overridden else None,
            )
            if target not in targets:
                targets.append(target)
        if not targets:
            env_vars: list[str] = []
            for spec in specs:
                for var in self.resolutions[spec.provider.name].env_vars:
                    if var not in env_vars:
                        env_vars.append(var)
            raise ProviderNotConfiguredError(
                [s.provider.name for s in specs], env_vars, [f"{n}: {r}" for n, r in skipped]
            )
        return Chain(tuple(targets), tuple(skipped))

    def _warn_once(self, name: str, resolution: Resolution) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("provider %s left out of chains: %s", name, resolution.reason)

    def portkey_config(self, chain: Chain, *, has_max_tokens: bool = True, timeout_ms: int | None = None) -> str:
        """The ``x-portkey-config`` header value for ``chain`` (cached: chains repeat).

        ``has_max_tokens=False`` fills in a default for providers whose API requires one; ``timeout_ms``
        is each target's ``request_timeout`` (default: REQUEST_TIMEOUT).
        """
        if timeout_ms is None:
            timeout_ms = int(self.settings.request_timeout * 1000)
        return _compile(chain.targets, self.settings.max_retries, timeout_ms, not has_max_tokens)


@lru_cache(maxsize=512)
def _compile(targets: tuple[Target, ...], retries: int, timeout_ms: int, fill_max_tokens: bool) -> str:
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [t.to_portkey(retries=retries, timeout_ms=timeout_ms, fill_max_tokens=fill_max_tokens)
                    for t in targets],
    }
    return json.dumps(config, separators=(",", ":"))
