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


def _non_loopback_address() -> str | None:
    """One of this machine's own non-loopback IPv4 addresses, if it has any."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return None


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
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines() if line.strip()]
        assert local_addresses == [f"127.0.0.1:{port}"]
        other = _non_loopback_address()
        if other:
            # The test guard forbids non-loopback connects, so ask a child interpreter.
            probe = f"import socket; s=socket.socket(); s.settimeout(2); print(s.connect_ex(({other!r}, {port})))"
            code = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
            assert code != "0"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gateway_command_explains_a_missing_install(tmp_path):
    result = subprocess.run([str(SOPHIA), "gateway"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "SOPHIA_GATEWAY_DIR": str(tmp_path)}, timeout=60)
    assert result.returncode == 2 and "make setup" in result.stderr
