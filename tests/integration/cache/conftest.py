"""Fixtures of the cache tests: a throwaway Redis server of their own, and helpers to count calls.

The machine's shared Redis (6379) is never touched: these tests stop and restart their server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.gateway.process import free_port
from tests.support import need_service


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence; stop() and start() at will."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)  # polling for the port to open, bounded by the deadline
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        need_service("redis-server", "not installed: the Redis cache tests cannot run")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


class Calls:
    """How many requests each simulated provider received since the helper was made."""

    def __init__(self, simulators: Any) -> None:
        self._control = simulators.control
        self._start = self._totals()

    def _totals(self) -> dict[str, int]:
        return {name: s["total"] for name, s in self._control.stats().items()}

    def __call__(self, provider: str | None = None) -> int:
        now = self._totals()
        if provider is not None:
            return now[provider] - self._start.get(provider, 0)
        return sum(now[p] - self._start.get(p, 0) for p in now)

    def last_body(self, provider: str) -> Any:
        return self._control.stats()[provider]["last_body"]


@pytest.fixture
def calls(simulators: Any) -> Calls:
    return Calls(simulators)
