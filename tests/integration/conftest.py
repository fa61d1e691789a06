from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.core.manager import PortkeyManager
from app.core.settings import load_settings
from app.runtime import build_manager
from app.sandbox import simulated_env

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
