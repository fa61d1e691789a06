"""`sophia gateway`: the pinned gateway in the foreground, headless, loopback only, clean stop."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.gateway.process import free_port, is_gateway_up

SOPHIA = Path(sys.executable).with_name("sophia")


def _wait_up(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "gateway exited"
        if is_gateway_up("127.0.0.1", port):
            return
        time.sleep(0.05)
    raise TimeoutError("gateway did not come up")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_gateway_command_is_headless_loopback_and_stops_cleanly(sig):
    port = free_port()
    proc = subprocess.Popen([str(SOPHIA), "gateway", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        _wait_up(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/log/stream")
        assert conn.getresponse().status == 404  # headless: no unauthenticated log stream
        conn.close()
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], check=False, capture_output=True, text=True).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines() if line.strip()]
        assert local_addresses == [f"127.0.0.1:{port}"]
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gateway_command_explains_a_missing_install(tmp_path):
    result = subprocess.run([str(SOPHIA), "gateway"], check=False, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "SOPHIA_GATEWAY_DIR": str(tmp_path)}, timeout=60)
    assert result.returncode == 2 and "make setup" in result.stderr
