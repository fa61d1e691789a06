"""Run the simulators CLI as a subprocess (for tests that need them out of process).

with start_simulators_process() as sims:
    sims.control.set_fault("openai", status=429, retry_after=1, times=1)
    httpx2.post(sims.base_urls["openai"] + "/chat/completions", ...)
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Self

from app.gateway.process import stop_process

from .control import SimulatorControl


class SimulatorProcess:
    """The simulators running in a child process: their URLs and a control client."""

    def __init__(self, proc: subprocess.Popen, control_url: str, base_urls: dict[str, str]) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.control_url = control_url
        self.base_urls = base_urls
        self.control = SimulatorControl(control_url)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the child (killed after ``timeout`` s); its exit code."""
        code = stop_process(self.proc, timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(proc: subprocess.Popen, timeout: float) -> bytes:
    """First stdout line of ``proc``, waiting on the pipe itself rather than sleeping."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"simulators did not report their ports within {timeout}s")
            if not sel.select(remaining):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"simulators exited early (code {proc.wait()})")
            buf += chunk
    return buf.split(b"\n", 1)[0]


def start_simulators_process(
    host: str = "127.0.0.1",
    control_port: int = 0,
    port_base: int = 0,
    timeout: float = 20.0,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> SimulatorProcess:
    """Launch ``python -m app.simulators`` with this interpreter; usable as a context manager."""
    cmd = [
        sys.executable,
        "-m",
        "app.simulators",
        "--host",
        host,
        "--control-port",
        str(control_port),
        "--port-base",
        str(port_base),
        *extra_args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    try:
        info = json.loads(_read_line(proc, timeout))
    except BaseException:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        raise
    return SimulatorProcess(proc, info["control_url"], info["base_urls"])
