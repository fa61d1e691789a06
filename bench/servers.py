"""Starting the server processes the benchmarks measure through (stopped with `stop_process`)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx2

from app.gateway.process import stop_process


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
