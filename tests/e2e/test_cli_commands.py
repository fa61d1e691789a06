"""`sophia ask`, `stats`, `health` against the sandbox, and `sophia serve --embedded` (what `make run` runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

from app.gateway.process import free_port
from tests.e2e.conftest import SOPHIA

pytestmark = pytest.mark.e2e


def _env(tmp_path, e2e_env: dict[str, str] | None = None) -> dict[str, str]:
    # PYTHONPATH passes through: run from a source tree (a worktree), the CLI must run that tree's code.
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}
    return {**inherited, "HOME": str(tmp_path), "MAX_RETRIES": "0", "MEMORY_ENABLED": "false",
            "SOPHIA_DATA_DIR": str(tmp_path / "data"), **(e2e_env or {})}


def _sophia(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOPHIA), *args], check=False, cwd=tmp_path, env={**env, "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=120)


def test_ask_then_stats_read_the_analytics(tmp_path, e2e_env):
    env = _env(tmp_path, e2e_env)
    role = _sophia(tmp_path, env, "ask", "Review x = 1", "--model", "artemis/code_reviewer")
    assert role.returncode == 0, role.stderr
    assert "[openai/gpt-4o]" in role.stdout and "openai/gpt-4o · " in role.stdout
    streamed = _sophia(tmp_path, env, "ask", "Stream please", "-m", "groq/llama-3.3-70b-versatile", "--stream")
    assert streamed.returncode == 0 and "groq/llama-3.3-70b-versatile" in streamed.stdout
    stats = _sophia(tmp_path, env, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    rows = {r["provider"]: r for r in json.loads(stats.stdout)}
    assert rows["openai"]["requests"] == 1 and rows["groq"]["requests"] == 1
    assert (tmp_path / "data" / "analytics.db").exists()  # in SOPHIA_DATA_DIR
    table = _sophia(tmp_path, env, "stats")
    assert "Provider performance" in table.stdout and "openai" in table.stdout


def test_health_reports_every_provider(tmp_path, e2e_env):
    result = _sophia(tmp_path, _env(tmp_path, e2e_env), "health", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "operational" and all(report["portkey_providers"].values())
    # Breakers kept per process (no Redis): this process has none worth showing, and says so.
    table = _sophia(tmp_path, _env(tmp_path, e2e_env), "health")
    assert table.returncode == 0, table.stderr
    assert "kept per process without REDIS_URL" in table.stdout and "probe in" not in table.stdout
    shared = _sophia(tmp_path, _env(tmp_path, {**e2e_env, "REDIS_URL": "redis://127.0.0.1:6379/0",
                                               "REDIS_NAMESPACE": f"t{uuid.uuid4().hex[:8]}"}), "health")
    assert shared.returncode == 0, shared.stderr
    assert "probe in" in shared.stdout and "kept per process" not in shared.stdout
    down = _sophia(tmp_path, _env(tmp_path, {"PORTKEY_BASE_URL": "http://127.0.0.1:9/v1",
                                             "GROQ_API_KEY": "gsk_0123456789abcdef0123"}), "health")
    assert down.returncode == 1 and "down" in down.stdout


def _wait_serving(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not come up"
        time.sleep(0.1)  # polling a port that is not open yet


def test_serve_workers_never_forward_the_local_qdrant_folder_to_themselves(tmp_path):
    # A pool of workers cannot serve a local Qdrant folder to other processes: each worker would forward
    # to the pool, itself included (before: /health's documents probe hung, and so did shutdown).
    port = free_port()
    proc = subprocess.Popen([str(SOPHIA), "serve", "--embedded", "--workers", "2", "--port", str(port),
                             "--log-level", "warning"], cwd=tmp_path, env={**_env(tmp_path), "DOCUMENTS_TOP_K": "0"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_serving(proc, url)
        held = json.loads((tmp_path / "data" / "service.json").read_text())
        assert held.get("qdrant_path") is None
        for _ in range(4):  # both workers answer; the one without the folder says why
            documents = httpx.get(url + "/health", timeout=20).json()["details"]["vector_databases"]["documents"]
            assert documents["ok"] or "another process holds this Qdrant folder" in documents["reason"]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "graceful shutdown exceeded" not in output, output[-2000:]


def test_serve_embedded_runs_the_sandboxed_service(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(SOPHIA), "serve", "--embedded", "--port", str(port), "--log-level", "warning"],
                            cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_serving(proc, url)
        answer = httpx.post(url + "/v1/chat/completions", timeout=30, json={
            "model": "sophia/sales_strategist", "messages": [{"role": "user", "content": "Pitch it"}]})
        assert answer.status_code == 200 and answer.headers["x-sophia-provider"] == "openai"
        page = httpx.get(url + "/", timeout=10).text
        assert "SANDBOX" in page and "openai" in page
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], check=False,
                                                       capture_output=True, text=True).stdout.split()]
        assert len(children) == 2  # the gateway and the simulators
    finally:
        proc.send_signal(signal.SIGTERM)  # how service managers stop it
        output, _ = proc.communicate(timeout=30)
    assert "SANDBOX" in output and f"http://127.0.0.1:{port}/" in output
    assert proc.returncode == 0
    for pid in children:  # stopped and reaped with the service, not orphaned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
