"""The key ledger: when each key was first seen or last rotated, by fingerprint, and what is due.

``keys.json`` in ``SOPHIA_DATA_DIR`` (mode 0600, replaced atomically under a file lock, so service
workers and the CLI can update it at once) maps each variable to its key's fingerprint and the time
that key was first seen or rotated in. A key whose fingerprint changed without ``sophia keys rotate``
(edited by hand, a new deployment secret) counts as rotated when it is first seen. A key is **due**
``KEY_WARN_DAYS`` before it is ``KEY_MAX_AGE_DAYS`` old, and **overdue** after.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.core.keys import is_placeholder
from app.core.providers import PROVIDERS

LEDGER_FILE = "keys.json"
DAY = 86400.0


def fingerprint(secret: str) -> str:
    """8 hex digits of the key's sha256: enough to tell keys apart, nothing to recover one from."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def key_variables() -> dict[str, str]:
    """Every key variable and what it belongs to: ``PORTKEY_API_KEY`` and each provider's key and VK."""
    out = {"PORTKEY_API_KEY": "portkey"}
    for name, provider in PROVIDERS.items():
        out[provider.api_key_env] = name
        out[provider.vk_env] = name
    return out


def configured_keys(settings: Any) -> dict[str, str]:
    """The key variables that hold a real key (placeholders left out), with their values."""
    out = {}
    for variable in key_variables():
        value = getattr(settings, variable.lower(), None)
        if isinstance(value, SecretStr) and not is_placeholder(value):
            out[variable] = value.get_secret_value()
    return out


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One key as ``sophia keys status`` shows it (never the key itself)."""

    variable: str
    owner: str
    """The provider name, or ``portkey``."""
    fingerprint: str
    since: float
    age_days: float
    due_at: float
    state: str
    """``ok``, ``due`` (within KEY_WARN_DAYS of its maximum age) or ``overdue``."""
    previous_fingerprint: str | None = None
    previous_valid_until: float | None = None
    """Until when the replaced key must stay valid at the provider (in-flight calls may still use it)."""

    @property
    def level(self) -> int:
        """0 ok, 1 due, 2 overdue (the ``sophia_key_rotation_state`` gauge)."""
        return {"ok": 0, "due": 1, "overdue": 2}[self.state]

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``--json`` and the service."""
        return {"variable": self.variable, "owner": self.owner, "fingerprint": self.fingerprint,
                "since": self.since, "age_days": round(self.age_days, 2), "due_at": self.due_at,
                "state": self.state, "previous_fingerprint": self.previous_fingerprint,
                "previous_valid_until": self.previous_valid_until}


class KeyLedger:
    """Reads and updates ``keys.json``; judges ages against the rotation policy."""

    def __init__(self, path: Path, *, max_age_days: float = 90.0, warn_days: float = 14.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.max_age_days = max_age_days
        self.warn_days = warn_days
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Any) -> KeyLedger:
        """The ledger in ``SOPHIA_DATA_DIR`` with the ``KEY_*`` policy."""
        return cls(Path(settings.sophia_data_dir) / LEDGER_FILE, max_age_days=settings.key_max_age_days,
                   warn_days=settings.key_warn_days)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = json.loads(self.path.read_text()) if self.path.exists() else {}
            before = json.dumps(records, sort_keys=True)
            yield records
            if json.dumps(records, sort_keys=True) != before:
                self._write(records)
        finally:
            os.close(lock)  # closing the descriptor releases the lock

    def _write(self, records: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(records, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def observe(self, settings: Any) -> list[KeyStatus]:
        """The status of every configured key, recording keys seen for the first time (or changed)."""
        now = self._clock()
        keys = configured_keys(settings)
        with self._locked() as records:
            for variable, secret in keys.items():
                fp = fingerprint(secret)
                record = records.get(variable)
                if record is None or record.get("fingerprint") != fp:
                    previous = record.get("fingerprint") if record else None
                    records[variable] = {"fingerprint": fp, "since": now, "previous_fingerprint": previous,
                                         "previous_valid_until": None}
            snapshot = {v: dict(records[v]) for v in keys}
        owners = key_variables()
        return [self._status(v, owners[v], snapshot[v], now) for v in keys]

    def rotated(self, variable: str, new_secret: str, grace_seconds: float,
                old_secret: str | None = None) -> KeyStatus:
        """Record that ``variable`` now holds ``new_secret`` in place of ``old_secret`` (the key it held, if
        any), which must stay valid for ``grace_seconds``.

        The old key is the caller's word, not the ledger's last record: a running service may already
        have observed the new key in ``.env`` (and recorded it) before this is called."""
        now = self._clock()
        fp = fingerprint(new_secret)
        old = fingerprint(old_secret) if old_secret and old_secret != new_secret else None
        with self._locked() as records:
            records[variable] = {"fingerprint": fp, "since": now, "previous_fingerprint": old,
                                 "previous_valid_until": now + grace_seconds if old else None}
            record = dict(records[variable])
        return self._status(variable, key_variables()[variable], record, now)

    def _status(self, variable: str, owner: str, record: dict[str, Any], now: float) -> KeyStatus:
        since = float(record["since"])
        age = max(0.0, (now - since) / DAY)
        due_at = since + self.max_age_days * DAY
        state = "overdue" if now >= due_at else "due" if now >= due_at - self.warn_days * DAY else "ok"
        return KeyStatus(variable, owner, record["fingerprint"], since, age, due_at, state,
                         record.get("previous_fingerprint"), record.get("previous_valid_until"))
