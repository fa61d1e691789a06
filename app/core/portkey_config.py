"""Centralised Portkey manager: the spec's entry point for every LLM call.

    from app.core.portkey_config import get_portkey_manager
    manager = get_portkey_manager()
    response = manager.create_completion(provider="openai", model="gpt-4-turbo",
                                         messages=[{"role": "user", "content": "Hello"}], temperature=0.7)

Importing this module is cheap on purpose: the HTTP stack and settings load on first use, so a
process that imports ``app`` for something else does not pay for them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.manager import PortkeyManager

__all__ = ["PortkeyManager", "get_portkey_manager", "reset_portkey_manager"]

_lock = threading.Lock()
_manager: PortkeyManager | None = None


def get_portkey_manager() -> PortkeyManager:
    """The process's one manager, built from the environment and ``.env`` on first call."""
    global _manager
    if _manager is None:
        with _lock:
            if _manager is None:
                from app.core.manager import PortkeyManager

                _manager = PortkeyManager()
    return _manager


def reset_portkey_manager() -> None:
    """Forget the process's manager (and re-read settings next time): for tests and reconfiguration."""
    global _manager
    from app.core.settings import get_settings

    with _lock:
        _manager = None
        get_settings.cache_clear()


def __getattr__(name: str) -> Any:
    if name == "PortkeyManager":
        from app.core.manager import PortkeyManager

        return PortkeyManager
    raise AttributeError(name)
