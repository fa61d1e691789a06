"""E2E fixtures: the service under a real uvicorn on a free loopback port, over the real gateway
and the provider simulators (session fixtures from tests/conftest.py)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.sandbox import simulated_env

SOPHIA = Path(sys.executable).with_name("sophia")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def e2e_env(gateway: Any, simulators: Any) -> dict[str, str]:
    """The sandbox's variables, every provider pointed at its simulator."""
    return simulated_env(gateway.url, simulators.base_urls)


def make_settings(env: dict[str, str], **overrides: Any) -> Any:
    from app.core.settings import load_settings

    values: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    values["max_retries"] = 0
    values.update(overrides)
    return load_settings(_env_file=None, **values)


@dataclass
class RunningService:
    url: str
    app: Any
    db_path: Path

    @property
    def state(self) -> Any:
        return self.app.state.sophia


class UvicornThread:
    """uvicorn serving ``app`` in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from app.gateway.process import free_port

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.01)  # polling uvicorn's started flag with a deadline
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def service(e2e_env: dict[str, str], simulators: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    from app.service import ServiceConfig, create_app

    data = tmp_path_factory.mktemp("service")
    db = data / "requests.db"
    # Agent memory is covered by its own tests; here it would only add the embedding model's load time.
    settings = make_settings(e2e_env, database_url=f"sqlite+aiosqlite:///{db}", memory_enabled=False,
                             sophia_data_dir=str(data))
    app = create_app(settings, ServiceConfig(health_interval=0, sandboxed=("openai", "groq"),
                                             control_url=simulators.control_url, max_body_bytes=200_000))
    with UvicornThread(app) as url:
        yield RunningService(url, app, db)


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "simulators" in request.fixturenames or "e2e_env" in request.fixturenames:
        request.getfixturevalue("simulators").control.clear_faults()


async def wait_until_serving(url: str, path: str, process: Any, timeout: float = 90) -> None:
    """Poll ``url + path`` until it answers 200 (a `sophia serve` child process starting), with a deadline."""
    import asyncio

    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while True:
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sophia serve at {url} did not start")
            await asyncio.sleep(0.05)  # polling the service's start with a deadline
