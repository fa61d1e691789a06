"""Starting the server processes the benchmarks measure through (stopped with `stop_process`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx2

from app.gateway.process import free_port, stop_process


def start_http_server(cmd: Sequence[str], *, env: Mapping[str, str], cwd: str | Path, ready_url: str,
                      log: Path | None = None, timeout: float = 90) -> subprocess.Popen[bytes]:
    """Run ``cmd`` and return once ``ready_url`` answers any HTTP status; output goes to ``log``."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps writing to it
    proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    if log:
        out.close()  # the child has its own descriptor
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode} while starting" + (f"; see {log}" if log else ""))
        try:
            httpx2.get(ready_url, timeout=1)
            return proc
        except httpx2.TransportError:
            time.sleep(0.1)  # waiting for the port to open
    stop_process(proc)
    raise TimeoutError(f"{cmd[0]} did not answer {ready_url} within {timeout} s")


class ThrowawayRedis:
    """A ``redis-server`` of our own on a free port, without persistence, so the machine's shared Redis is
    never touched; ``stop()`` then ``start()`` is a restart that loses every key. The benchmarks and the
    tests' ``redis_server`` fixture use it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and return once it answers PING."""
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", self.dir],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
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
        """Kill the server (its keys are gone: nothing is persisted)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self) -> ThrowawayRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
