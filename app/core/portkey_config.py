"""Centralised Portkey manager: the spec's entry point for every LLM call.

    from app.core.portkey_config import get_portkey_manager
    manager = get_portkey_manager()
    response = manager.create_completion(provider="openai", model="gpt-4-turbo",
                                         messages=[{"role": "user", "content": "Hello"}], temperature=0.7)

This module is part of the composition root (it lives here because the spec names this path): the
manager comes from the process's runtime (``app.runtime``), which builds it once with its
transport, cache and embedder. Importing this module is cheap on purpose: the HTTP stack and
settings load on first use, so a process that imports ``app`` for something else does not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.manager import PortkeyManager
    from app.core.settings import Settings

__all__ = ["PortkeyManager", "configure_portkey_manager", "get_portkey_manager", "reset_portkey_manager"]


def get_portkey_manager() -> PortkeyManager:
    """The process's one manager, built from the environment and ``.env`` on first call."""
    from app.runtime import process_runtime

    return process_runtime().manager


def configure_portkey_manager(settings: Settings) -> None:
    """Build the process's manager (and factories) from ``settings`` from now on, not from the environment."""
    from app.runtime import use_settings

    use_settings(settings)


def reset_portkey_manager() -> None:
    """Forget the process's manager (and re-read the environment next time): for tests and reconfiguration."""
    from app.runtime import use_settings

    use_settings(None)


def __getattr__(name: str) -> Any:
    if name == "PortkeyManager":
        from app.core.manager import PortkeyManager

        return PortkeyManager
    raise AttributeError(name)
