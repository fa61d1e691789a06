"""The first ten minutes: `sophia serve --embedded` (what `make run` runs) is found by every other entry
point in a second shell with no key set: `sophia ask`, `sophia health`, the spec's Python example (with
agent memory through the service that holds the Qdrant folder) and the integration script. A busy port
is refused before anything starts, and the runtime file goes away with the service."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.gateway.process import free_port
from tests import spec_examples
from tests.e2e.conftest import REPO, SOPHIA

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path) -> dict[str, str]:
    """A newcomer's shell: no key, memory on (the default), data in the checkout's folder (and this
    checkout's code, when the tests run it through PYTHONPATH)."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SOPHIA_DATA_DIR": str(tmp_path / ".sophia"),
            "COLUMNS": "200", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}


def _run(tmp_path: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=False, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=180)


@dataclass
class Service:
    proc: subprocess.Popen[str]
    url: str
    runtime_file: Path


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp_path = tmp_path_factory.mktemp("checkout")
    port = free_port()
    proc = subprocess.Popen([str(SOPHIA), "serve", "--embedded", "--port", str(port), "--log-level", "warning"],
                            cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    service = Service(proc, f"http://127.0.0.1:{port}", tmp_path / ".sophia" / "service.json")
    deadline = time.monotonic() + 90
    while not service.runtime_file.exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        assert time.monotonic() < deadline, "the service did not write its runtime file"
        time.sleep(0.1)  # polling for a file another process writes
    try:
        yield service
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def test_the_runtime_file_describes_the_service(make_run):
    found = json.loads(make_run.runtime_file.read_text())
    assert found["pid"] == make_run.proc.pid and found["url"] == make_run.url + "/"
    assert found["qdrant_path"] == str(make_run.runtime_file.parent / "qdrant")
    assert set(found["sandbox"]["simulators"]) == {"openai", "anthropic", "deepseek", "groq", "mistral", "together",
                                                   "perplexity"}
    assert httpx.get(found["sandbox"]["control_url"] + "/health", timeout=5).status_code == 200


def test_sophia_ask_and_health_use_its_sandbox(make_run):
    tmp_path = make_run.runtime_file.parents[1]
    asked = _run(tmp_path, str(SOPHIA), "ask", "Hello", "-m", "gpt-4o")
    assert asked.returncode == 0, asked.stderr
    assert "SANDBOX" in asked.stderr and f"pid {make_run.proc.pid}" in asked.stderr
    assert "openai/gpt-4o · " in asked.stdout
    health = _run(tmp_path, str(SOPHIA), "health", "--json")
    assert health.returncode == 0, health.stderr
    report = json.loads(health.stdout)
    assert report["status"] == "operational", report["details"]["reasons"]
    assert report["details"]["vector_databases"]["qdrant"]["reason"].startswith(
        f"through the service at {make_run.url}/ (pid {make_run.proc.pid}): local mode at")


def test_the_spec_example_remembers_through_the_service(make_run):
    tmp_path = make_run.runtime_file.parents[1]
    # The spec's example as a user runs it: a script of their own, `await` inside asyncio.run.
    body = "\n".join("    " + line for line in spec_examples.ARTEMIS.splitlines())
    example = (f"import asyncio\n\nasync def main():\n{body}\n    print('served-by', result.provider, result.cached)"
               "\n\nasyncio.run(main())\n")
    (tmp_path / "example.py").write_text(example)
    first = _run(tmp_path, sys.executable, "example.py")
    assert first.returncode == 0, first.stderr
    assert "served-by anthropic None" in first.stdout
    assert "SANDBOX: no provider key is set" in first.stderr and "another process holds" not in first.stderr
    count = httpx.post(f"{make_run.url}/internal/vectors/count", json={"collection": "agent_memory", "where": {}},
                       timeout=10)
    assert count.status_code == 200 and count.json()["count"] >= 1, "the exchange was remembered by the service"


def test_documents_go_through_the_service_too(make_run):
    """A whole README as documents: more than one request's worth of vectors, and a full scan back."""
    tmp_path = make_run.runtime_file.parents[1]
    added = _run(tmp_path, str(SOPHIA), "docs", "add", str(REPO / "README.md"))
    assert added.returncode == 0, added.stderr
    listed = _run(tmp_path, str(SOPHIA), "docs", "list", "--json")
    (source,) = json.loads(listed.stdout)
    assert source["chunks"] > 100 and "qdrant-service" in _run(tmp_path, str(SOPHIA), "docs", "list").stdout


def test_the_integration_script_passes_against_it(make_run):
    tmp_path = make_run.runtime_file.parents[1]
    checked = _run(tmp_path, sys.executable, str(REPO / "scripts" / "test_portkey_integration.py"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all 6 checks passed" in checked.stdout and "SANDBOX" in checked.stderr


def test_a_busy_port_is_named_before_anything_starts(make_run, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        refused = _run(tmp_path, str(SOPHIA), "serve", "--embedded", "--port", str(port))
    assert refused.returncode == 2 and time.monotonic() - started < 20
    assert f"port {port} on 127.0.0.1 is already in use" in refused.stderr and "SOPHIA_PORT" in refused.stderr
    assert "Sophia service on" not in refused.stdout and "SANDBOX" not in refused.stdout


def test_the_runtime_file_goes_with_the_service(make_run):
    make_run.proc.send_signal(signal.SIGTERM)
    make_run.proc.communicate(timeout=30)
    assert make_run.proc.returncode == 0 and not make_run.runtime_file.exists()
    tmp_path = make_run.runtime_file.parents[1]
    alone = _run(tmp_path, str(SOPHIA), "ask", "Hello")
    assert alone.returncode == 2 and "run `make run`" in alone.stderr
