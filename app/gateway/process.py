"""Start, probe and stop the open-source Portkey gateway as a child process.

The gateway binds every interface and has no host flag, and without ``--headless`` it serves an
unauthenticated log stream that shows provider keys (DESIGN.md section 4). So it always runs
headless, with NODE_ENV=production, behind two preloads: ``loopback-preload.cjs`` pins its sockets to
127.0.0.1 and reports every upstream attempt in the ``x-sophia-attempts`` response header;
``source-patches.cjs`` patches the gateway's code as it loads (it drops the 25 ms wait before every
stream's first chunk) and stops the gateway from starting if a patch no longer applies.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Self

from app.core.errors import ConfigurationError

GATEWAY_VERSION = "1.15.2"
_ENTRY = Path("node_modules/@portkey-ai/gateway/build/start-server.js")
PRELOADS = ("loopback-preload.cjs", "source-patches.cjs")
"""Files in the gateway directory that Node loads (``--require``) before the gateway, in order."""
NODE_FLAGS = ("--max-semi-space-size=4",)
"""V8's young generation capped at 4 MB a semi-space (Node 20 grows it to 16): the gateway allocates
about 400 KB per request and a fifth of it survives a scavenge (in part because undici registers every
upstream response in a FinalizationRegistry, which only a full GC clears), so with 16 MB every ~28th
request waited on a 4-7 ms scavenge: the gateway's p99. With 4 MB the pauses are 1.5-2 ms (every ~10th
request) for about 5% more gateway CPU. Measured with ``--trace-gc-nvp`` on 2 busy cores; see README,
"The gateway"."""


def gateway_dir(configured: str | Path | None = None) -> Path:
    """Where the pinned gateway is installed: ``configured`` (``SOPHIA_GATEWAY_DIR``) or the repository's ``gateway/``."""
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "gateway"


def gateway_command(port: int, host: str = "127.0.0.1",
                    directory: str | Path | None = None, preloads: Sequence[str | Path] = PRELOADS,
                    ) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run the pinned gateway headless on ``host:port``; relative
    ``preloads`` are in the gateway directory."""
    directory = gateway_dir(directory)
    node = shutil.which("node")
    if node is None:
        raise ConfigurationError("Node.js is not installed; the gateway needs `node` (20 or newer) on PATH")
    if not (directory / _ENTRY).exists():
        raise ConfigurationError(
            f"the Portkey gateway is not installed in {directory}; run `make setup` "
            "(or `npm ci` in gateway/), or set SOPHIA_GATEWAY_DIR",
            env_vars=["SOPHIA_GATEWAY_DIR"],
        )
    # The child inherits our environment (PATH, proxies), plus what makes it headless and loopback-bound.
    env = {**os.environ, "NODE_ENV": "production", "SOPHIA_GATEWAY_HOST": host}
    requires = [arg for preload in preloads for arg in ("--require", str(directory / preload))]
    cmd = [node, *NODE_FLAGS, *requires, str(directory / _ENTRY), "--headless", f"--port={port}"]
    return cmd, env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (another process may take it before it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def is_gateway_up(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something on ``host:port`` answers HTTP below 500 within ``timeout`` seconds."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", "/")
        ok = conn.getresponse().status < 500
        conn.close()
        return ok
    except OSError:
        return False


class GatewayProcess:
    """The gateway as a child process on ``127.0.0.1:<port>``; a context manager."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None,
                 directory: str | Path | None = None, preloads: Sequence[str | Path] = PRELOADS) -> None:
        self.host = host
        self.directory = directory
        self.port = port or free_port(host)
        self.log_path = log_path
        self.preloads = tuple(preloads)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | int | None = None

    @property
    def url(self) -> str:
        """The base URL to use as PORTKEY_BASE_URL."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 30.0) -> Self:
        """Start the gateway and wait until it answers.

        Raises RuntimeError when it exits while starting, TimeoutError when it does not answer
        within ``timeout`` seconds.
        """
        cmd, env = gateway_command(self.port, self.host, self.directory, self.preloads)
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self._proc.returncode} while starting; see {self.log_path}")
            if is_gateway_up(self.host, self.port):
                return self
            time.sleep(0.05)  # polling a port that is not open yet; not used as synchronisation
        self.stop()
        raise TimeoutError(f"gateway did not answer on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Stop the gateway (killed after ``timeout`` s); its exit code, or None if it was not running."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        stop_process(proc, timeout)
        if not isinstance(self._log, int | None):
            self._log.close()
        return proc.returncode

    @property
    def pid(self) -> int | None:
        """The gateway's process id while it runs (None before ``start``)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
