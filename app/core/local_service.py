"""The local service's runtime file: how every other process finds what ``make run`` started.

``sophia serve`` writes ``<SOPHIA_DATA_DIR>/service.json`` once it has started (its pid and URL,
the Qdrant folder it holds and, with ``--embedded``, its gateway and provider simulators) and removes
it on exit. The composition root reads it: a process with no provider configured then uses the
service's sandbox, and a process whose agent memory lives in the folder the service holds reaches
that memory through the service. A file whose process is gone (a crash, SIGKILL) is stale: it is
ignored and removed. The file holds no secret: real keys stay in the environment and ``.env``, and
the sandbox's keys are the simulators' made-up ones.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.core.providers import PROVIDERS

log = logging.getLogger("app.core.local_service")

RUNTIME_FILE = "service.json"
SANDBOX_KEY = "sk-sandbox-{name}-not-a-real-key"


def simulated_env(gateway_url: str, base_urls: Mapping[str, str], real_keys: Collection[str] = ()) -> dict[str, str]:
    """Variables that send each provider not in ``real_keys`` to its simulator (at ``base_urls``)."""
    env = {"PORTKEY_BASE_URL": gateway_url}
    for name, provider in PROVIDERS.items():
        if name in real_keys or name not in base_urls:
            continue  # a real key: this provider is called for real
        env[provider.api_key_env] = SANDBOX_KEY.format(name=name)
        env[provider.base_url_env] = base_urls[name]
    return env


def as_settings(env: Mapping[str, str]) -> dict[str, str]:
    """Environment-style variables as settings field names (for ``load_settings(**...)``)."""
    return {name.lower(): value for name, value in env.items()}


@dataclass(frozen=True)
class LocalSandbox:
    """The gateway and simulators a local service runs (``sophia serve --embedded``)."""

    gateway_url: str
    control_url: str
    """The simulators' control API (faults), e.g. ``http://127.0.0.1:9000``."""
    simulators: dict[str, str]
    """Simulated provider -> its base URL; providers with a real key are not in it."""

    @property
    def env(self) -> dict[str, str]:
        """The variables that point the simulated providers at their simulators through the gateway."""
        return simulated_env(self.gateway_url, self.simulators)


@dataclass(frozen=True)
class LocalService:
    """A running ``sophia serve``, as its runtime file describes it."""

    pid: int
    url: str
    """The service's base URL, e.g. ``http://127.0.0.1:8000/``."""
    qdrant_path: str | None = None
    """The Qdrant local-mode folder it holds (locked against other processes), if any."""
    sandbox: LocalSandbox | None = None
    started_at: float = field(default_factory=time.time)

    @property
    def ours(self) -> bool:
        """True in the service's own process."""
        return self.pid == os.getpid()

    def holds(self, qdrant_path: str) -> bool:
        """True when the service holds the Qdrant folder ``qdrant_path`` (and this is another process)."""
        return not self.ours and self.qdrant_path is not None and (
            os.path.abspath(self.qdrant_path) == os.path.abspath(qdrant_path))

    def describe(self) -> str:
        """``the service started by `make run` (pid N, URL)``, for notices."""
        return f"the Sophia service started by `make run` (pid {self.pid}, {self.url})"


def runtime_file(data_dir: str | os.PathLike[str]) -> Path:
    """Where a service on ``data_dir`` (``SOPHIA_DATA_DIR``) writes its runtime file."""
    return Path(data_dir).resolve() / RUNTIME_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def write_runtime_file(data_dir: str | os.PathLike[str], service: LocalService) -> Path:
    """Write the runtime file atomically (mode 0600); returns its path."""
    path = runtime_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(service), handle, indent=2)
    os.replace(tmp, path)
    return path


def remove_runtime_file(path: Path) -> None:
    """Remove the runtime file at ``path`` if this process wrote it (another service's file stays)."""
    found = _read(path)
    if found is not None and found.ours:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read(path: Path) -> LocalService | None:
    try:
        raw = json.loads(path.read_text())
        sandbox = raw.get("sandbox")
        return LocalService(pid=int(raw["pid"]), url=str(raw["url"]), qdrant_path=raw.get("qdrant_path"),
                            sandbox=LocalSandbox(**sandbox) if sandbox else None,
                            started_at=float(raw.get("started_at", 0.0)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s: not a runtime file this version can read (%s)", path, type(exc).__name__)
        return None


def find_local_service(data_dir: str | os.PathLike[str]) -> LocalService | None:
    """The service running on ``data_dir``, or None (no file, unreadable, or its process is gone).

    A stale file (its process is gone) is removed, so the next process does not look again.
    """
    path = runtime_file(data_dir)
    found = _read(path)
    if found is None or found.ours or _alive(found.pid):
        return found
    log.info("removing %s: its service (pid %d) is gone", path, found.pid)
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def running_elsewhere(data_dir: str | os.PathLike[str]) -> LocalService | None:
    """The live service of another process on ``data_dir``, if any (for a second ``sophia serve``)."""
    found = find_local_service(data_dir)
    return None if found is None or found.ours else found


def sandbox_notice(service: LocalService, simulated: Collection[str]) -> str:
    """The one-line SANDBOX notice of a process that uses the service's simulators (plain text)."""
    return (f"SANDBOX: no provider key is set, so the simulators of {service.describe()} answer for "
            f"{', '.join(simulated)}; set a provider's key (in .env or the environment) to call it for real")

