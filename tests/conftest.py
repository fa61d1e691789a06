"""Test-wide rules: no request leaves the machine, and shared fixtures for real processes.

Integration fixtures start the real Portkey gateway (pinned, from gateway/) and the provider
simulators as child processes on free ports, once per session.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.providers import PROVIDERS

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        raise RuntimeError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _loopback_only(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _loopback_only(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]

# Settings must come from the tests, never from a developer's .env or shell.
_OWN_PREFIXES = (*(p.env_prefix + "_" for p in PROVIDERS.values()), "PORTKEY_")
for _var in list(os.environ):
    if _var.startswith(_OWN_PREFIXES):
        del os.environ[_var]

# Embedded stores write under the working directory by default; tests keep them in a temp folder.
# Memory and document grounding are off unless a test turns them on (their tests build their own
# stores): the model load and the recall/retrieve steps would otherwise slow every agent test, and
# subprocesses (CLI, scripts) sharing this Qdrant folder with the test process could not open it.
# The data folder too: a `make run` in the working directory (its runtime file, its analytics database)
# must not change what the tests see.
os.environ.setdefault("QDRANT_PATH", tempfile.mkdtemp(prefix="sophia-qdrant-"))
os.environ.setdefault("SOPHIA_DATA_DIR", tempfile.mkdtemp(prefix="sophia-data-"))
os.environ.setdefault("MEMORY_ENABLED", "false")
os.environ.setdefault("DOCUMENTS_TOP_K", "0")


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def simulators() -> Iterator[object]:
    from app.simulators.process import start_simulators_process

    with start_simulators_process() as sims:
        yield sims


@pytest.fixture(scope="session")
def gateway(artifacts_dir: Path) -> Iterator[object]:
    from app.gateway import GatewayProcess

    with GatewayProcess(log_path=artifacts_dir / "gateway.log") as gw:
        yield gw


def sandbox_env(gateway_url: str, base_urls: dict[str, str]) -> dict[str, str]:
    """Environment variables that point every provider at its simulator through the gateway."""
    env = {"PORTKEY_BASE_URL": gateway_url}
    for name, provider in PROVIDERS.items():
        env[provider.api_key_env] = f"sk-test-{name}-0123456789abcdef"
        env[provider.base_url_env] = base_urls[name]
    return env
