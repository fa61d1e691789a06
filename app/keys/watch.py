"""Picking up rotated keys in a running service: watch ``.env``, swap the manager's credentials.

Every ``KEY_WATCH_INTERVAL`` seconds the watcher compares ``.env``'s modification time, size and
inode (a ``stat``: cheap). When the file changed it reads the settings afresh and compares each key
variable with the previous read; only keys that changed are applied, on top of the running settings
(so what the process was started with, e.g. ``sophia serve --embedded``'s simulator URLs, stays).
The manager then routes new calls with the new keys, while calls in flight finish on the old ones.
A variable also set in the process environment wins over ``.env`` (pydantic-settings' order): a
rotation there is not visible and the watcher says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.keys.ledger import KeyLedger, fingerprint, key_variables

log = logging.getLogger("app.keys")


def credential_changes(before: Any, after: Any) -> dict[str, Any]:
    """The key fields (lower-case setting names) whose value differs between two settings."""
    changes = {}
    for variable in key_variables():
        name = variable.lower()
        if variable == "PORTKEY_API_KEY":
            continue  # read by the transport at start: a restart applies it
        old, new = getattr(before, name, None), getattr(after, name, None)
        old_value = old.get_secret_value() if old is not None else None
        new_value = new.get_secret_value() if new is not None else None
        if old_value != new_value:
            changes[name] = new
    return changes


class EnvWatcher:
    """Applies keys rotated in ``env_file`` to ``manager`` (a ``PortkeyManager``)."""

    def __init__(self, manager: Any, env_file: Path, load: Callable[[Path], Any], *,
                 ledger: KeyLedger | None = None, interval: float = 2.0) -> None:
        self.manager = manager
        self.env_file = env_file
        self._load = load
        self.ledger = ledger
        self.interval = interval
        self._stamp = self._stat()
        self._baseline = load(env_file)
        self.rotations = 0

    def _stat(self) -> tuple[float, int, int] | None:
        try:
            st = self.env_file.stat()
        except OSError:
            return None
        return (st.st_mtime, st.st_size, st.st_ino)

    def check(self) -> list[str]:
        """Apply what changed since the last check; the variables that were rotated."""
        stamp = self._stat()
        if stamp == self._stamp:
            return []
        self._stamp = stamp
        try:
            fresh = self._load(self.env_file)
        except Exception as exc:  # noqa: BLE001 - a half-edited .env must not stop the service
            log.warning("%s changed but could not be read (%s); keys unchanged", self.env_file, exc)
            return []
        changes = credential_changes(self._baseline, fresh)
        self._baseline = fresh
        if not changes:
            return []
        running = self.manager.settings
        updated = running.model_copy(update=changes)
        self.manager.use_settings(updated)
        self.rotations += 1
        rotated = []
        for name, value in changes.items():
            variable = name.upper()
            rotated.append(variable)
            old = getattr(running, name, None)
            log.info("key %s rotated without a restart: %s -> %s (calls in flight finish on the old key)",
                     variable, fingerprint(old.get_secret_value()) if old is not None else "none",
                     fingerprint(value.get_secret_value()) if value is not None else "none")
        if self.ledger is not None:
            self.ledger.observe(updated)
        return rotated

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)  # a polling period, not synchronisation
            try:
                self.check()
            except Exception:
                log.exception("checking %s for rotated keys failed", self.env_file)
