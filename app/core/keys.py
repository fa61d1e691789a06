"""Key resolution: which credential a provider's target carries, or why it has none.

Hosted Portkey (PORTKEY_API_KEY set) addresses providers through virtual keys; the self-hosted
open-source gateway has no virtual keys, so each target carries the provider's own key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pydantic import SecretStr

from app.core.placeholders import looks_like_placeholder
from app.core.settings import ProviderSettings


class KeyKind(str, Enum):
    """Whether a credential is a hosted-Portkey virtual key or the provider's own API key."""

    VIRTUAL_KEY = "virtual_key"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Credential:
    """The key a target sends, and of which kind; its repr never shows the secret."""

    kind: KeyKind
    secret: SecretStr

    def __repr__(self) -> str:  # never show even a prefix of a key
        return f"Credential({self.kind.value})"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of looking for a provider's key: the credential, or why there is none."""

    credential: Credential | None
    reason: str
    """Why the provider is (not) usable, for warnings and health output; never contains a key."""
    env_vars: tuple[str, ...]
    """What to set to configure it."""

    @property
    def configured(self) -> bool:
        """True when the provider has a usable credential."""
        return self.credential is not None


def is_placeholder(secret: SecretStr) -> bool:
    """True for an empty value or one copied from a template (``your_key``, ``sk-xxxxx``...): never sent."""
    return looks_like_placeholder(secret.get_secret_value())


def resolve_credential(ps: ProviderSettings, *, hosted: bool) -> Resolution:
    """Which key a provider's targets carry: a virtual key (hosted Portkey) or the API key.

    Placeholder values count as unset; the resolution says which variable to set.
    """
    p = ps.provider
    wanted: tuple[str, ...]
    candidates: tuple[tuple[KeyKind, SecretStr | None, str], ...]
    if hosted:
        wanted = (p.vk_env, p.api_key_env)
        candidates = ((KeyKind.VIRTUAL_KEY, ps.virtual_key, p.vk_env), (KeyKind.API_KEY, ps.api_key, p.api_key_env))
    else:
        wanted = (p.api_key_env,)
        candidates = ((KeyKind.API_KEY, ps.api_key, p.api_key_env),)
    placeholders = []
    for kind, secret, env in candidates:
        if secret is None:
            continue
        if is_placeholder(secret):
            placeholders.append(env)
            continue
        return Resolution(Credential(kind, secret), f"{env} set", wanted)
    if not hosted and ps.virtual_key is not None and is_placeholder(ps.virtual_key):
        placeholders.append(p.vk_env)  # a template's VK line: not a reason to ask for hosted Portkey
    if placeholders:
        return Resolution(None, f"{', '.join(placeholders)} holds a placeholder value", wanted)
    if not hosted and ps.virtual_key is not None:
        return Resolution(
            None, f"{p.vk_env} is set but virtual keys need hosted Portkey (set PORTKEY_API_KEY) "
            f"or set {p.api_key_env} for a self-hosted gateway", wanted,
        )
    return Resolution(None, f"{' or '.join(wanted)} not set", wanted)
