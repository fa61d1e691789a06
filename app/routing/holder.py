"""The process's current routing policy, swapped atomically on reload.

A request reads ``holder.current`` once and plans on that immutable policy to the end, so a reload
(SIGHUP, a change of the file, or ``reload()``) never disturbs requests in flight: the new policy
serves the requests that start after the swap. A file that fails to load leaves the old policy in
place (the error is logged and kept in ``last_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from app.core.errors import ConfigurationError
from app.routing.loading import load_policy
from app.routing.policy import RoutingPolicy

log = logging.getLogger("app.routing")


class PolicyHolder:
    """Holds the current policy; ``reload()`` swaps in a new one built from the same settings."""

    def __init__(self, settings: Any, policy: RoutingPolicy | None = None,
                 loader: Callable[[Any], RoutingPolicy] = load_policy) -> None:
        self.settings = settings
        self._loader = loader
        self._current = policy if policy is not None else loader(settings)
        self.loaded_at = time.time()
        self.last_error: str | None = None
        self._changed = threading.Condition()

    @property
    def current(self) -> RoutingPolicy:
        """The policy new requests plan on (one attribute read: atomic)."""
        return self._current

    @property
    def path(self) -> Path | None:
        """The routing file being watched (``SOPHIA_ROUTING_FILE``), or None."""
        file = getattr(self.settings, "sophia_routing_file", None)
        return Path(file) if file else None

    def reload(self) -> bool:
        """Load the file again and swap the new policy in; False (old policy kept) when it fails."""
        try:
            policy = self._loader(self.settings)
        except ConfigurationError as exc:
            self.last_error = str(exc)
            log.error("routing policy not reloaded, keeping version %s: %s", self._current.version, exc)
            return False
        previous = self._current
        with self._changed:
            self._current = policy
            self.loaded_at = time.time()
            self.last_error = None
            self._changed.notify_all()
        if policy.version != previous.version:
            gone = sorted(set(previous.roles) - set(policy.roles)) + sorted(
                f"route/{r}" for r in set(previous.routes) - set(policy.routes))
            log.info("routing policy reloaded: version %s -> %s (%d roles, %d routes)%s", previous.version,
                     policy.version, len(policy.roles), len(policy.routes),
                     f"; removed: {', '.join(gone)}" if gone else "")
        return True

    def wait_for(self, version: str, timeout: float) -> bool:
        """Block until the current policy has ``version`` (True) or ``timeout`` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._current.version == version, timeout)

    def summary(self) -> dict[str, Any]:
        """What is loaded, for ``GET /v1/routes`` and the CLI."""
        policy = self._current
        return {
            "version": policy.version, "source": policy.source, "loaded_at": self.loaded_at,
            "last_error": self.last_error,
            "roles": {k: {"description": r.description, "strategy": type(r.strategy.root).__name__.lower(),
                          "targets": r.strategy.targets} for k, r in policy.roles.items()},
            "routes": {k: {"description": r.description, "strategy": type(r.strategy.root).__name__.lower(),
                           "targets": r.strategy.targets} for k, r in policy.routes.items()},
        }


def _stamp(path: Path) -> tuple[float, int, int] | None:
    try:
        st = os.stat(path)  # follows symlinks: a ConfigMap's swapped link target counts as a change
    except OSError:
        return None
    return (st.st_mtime, st.st_size, st.st_ino)


def watch(holder: PolicyHolder, interval: float) -> Coroutine[Any, Any, None]:
    """A task's body that reloads whenever the routing file changes after this call (checked every
    ``interval`` seconds), until cancelled; returns at once when there is no file or ``interval`` is 0."""
    path = holder.path
    return _poll(holder, path, _stamp(path) if path is not None else None, interval)


async def _poll(holder: PolicyHolder, path: Path | None, seen: tuple[float, int, int] | None,
                interval: float) -> None:
    if path is None or interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)  # a polling period, not synchronisation
        stamp = _stamp(path)
        if stamp is None or stamp == seen:
            continue
        # Changed: reload once the file holds still for a period, so a writer that is not done yet
        # (an editor saving in place) is not read half-written.
        await asyncio.sleep(interval)
        if _stamp(path) == stamp:
            seen = stamp
            await asyncio.to_thread(holder.reload)


@contextlib.contextmanager
def reload_on_sighup(holder: PolicyHolder, loop: asyncio.AbstractEventLoop) -> Any:
    """While inside, SIGHUP reloads the policy (only where signals can be handled: the main thread, POSIX)."""
    import signal

    sighup = getattr(signal, "SIGHUP", None)
    installed = False
    if sighup is not None and threading.current_thread() is threading.main_thread():
        try:
            loop.add_signal_handler(sighup, lambda: loop.run_in_executor(None, holder.reload))
            installed = True
        except (NotImplementedError, RuntimeError):
            installed = False
    try:
        yield installed
    finally:
        if installed and sighup is not None:
            loop.remove_signal_handler(sighup)
