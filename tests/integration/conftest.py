from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.manager import PortkeyManager
from app.core.settings import load_settings
from app.embeddings import LocalEmbedder
from app.runtime import build_manager
from app.sandbox import simulated_env
from bench.servers import ThrowawayRedis
from tests.support import need_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def sandbox_env(gateway: Any, simulators: Any) -> dict[str, str]:
    return simulated_env(gateway.url, simulators.base_urls)


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "simulators" in request.fixturenames:
        request.getfixturevalue("simulators").control.clear_faults()


@pytest.fixture
def user_env(monkeypatch: pytest.MonkeyPatch, sandbox_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A user's environment on the sandbox: memory and document grounding at their defaults (on), the
    embedded stores under tmp_path; yields their folder (SOPHIA_DATA_DIR). The process runtime is
    rebuilt from it, and forgotten (its stores closed) afterwards."""
    from app.core.portkey_config import reset_portkey_manager
    from app.vectors.registry import close_stores

    for key, value in sandbox_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAX_RETRIES", "0")
    for default in ("MEMORY_ENABLED", "DOCUMENTS_TOP_K", "QDRANT_PATH"):
        monkeypatch.delenv(default, raising=False)
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    reset_portkey_manager()
    yield tmp_path / "data"
    reset_portkey_manager()
    close_stores()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[ThrowawayRedis]:
    """A redis-server of the module's own (the machine's shared one is never touched): stop() and start()
    at will, as a Redis restart."""
    if shutil.which("redis-server") is None:
        need_service("redis-server", "not installed: the tests that restart Redis cannot run")
    with ThrowawayRedis() as server:
        yield server


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The real local model, loaded once for the memory, document and grounding tests."""
    return LocalEmbedder()


@pytest.fixture
def make_manager(sandbox_env: dict[str, str]) -> Iterator[Any]:
    """Managers over the sandbox, built as the Python API builds them (with the cache the settings call
    for); settings come only from the arguments (no .env, no shell)."""
    made: list[PortkeyManager] = []

    def build(**overrides: Any) -> PortkeyManager:
        values: dict[str, Any] = {k.lower(): v for k, v in sandbox_env.items()}
        values.setdefault("max_retries", 0)
        values.update(overrides)
        manager = build_manager(load_settings(_env_file=None, **values))
        made.append(manager)
        return manager

    yield build
