"""`sophia workflow list|run` against the sandbox, and its live progress display in a real terminal
(tmux): steps appearing as they start, the provider that served each, the cost so far, and Ctrl-C
stopping the calls in flight."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.simulators import Fault
from tests.e2e.conftest import SOPHIA
from tests.support import need_service

pytestmark = pytest.mark.e2e

CODE = """import hashlib

def check(password: str, stored: str) -> bool:
    return hashlib.md5(password.encode()).hexdigest() == stored
"""


def _env(tmp_path: Path, e2e_env: dict[str, str]) -> dict[str, str]:
    # PYTHONPATH passes through: run from a source tree (a worktree), the CLI must run that tree's code.
    inherited = {k: os.environ[k] for k in ("PATH", "PYTHONPATH") if k in os.environ}
    return {**inherited, "HOME": str(tmp_path), "MAX_RETRIES": "0", "MEMORY_ENABLED": "false",
            "SOPHIA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "160", **e2e_env}


def _sophia(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOPHIA), *args], check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_workflow_list_names_both_builtins(tmp_path, e2e_env):
    listed = _sophia(tmp_path, _env(tmp_path, e2e_env), "workflow", "list")
    assert listed.returncode == 0, listed.stderr
    assert "security_review" in listed.stdout and "[scan | audit | performance] -> report" in listed.stdout
    assert "market_brief" in listed.stdout and "recommend <-> tone (x1)" in listed.stdout
    described = json.loads(_sophia(tmp_path, _env(tmp_path, e2e_env), "workflow", "list", "--json").stdout)
    assert described[0]["input"]["required"] == ["code"]


def test_workflow_run_prints_the_result_as_json_and_records_the_run(tmp_path, e2e_env):
    env = _env(tmp_path, e2e_env)
    (tmp_path / "auth.py").write_text(CODE)
    ran = _sophia(tmp_path, env, "workflow", "run", "security_review", "--input", "auth.py", "--set",
                  "language=python", "--json")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["status"] == "completed" and [s["name"] for s in result["steps"]] == [
        "scan", "audit", "performance", "report"]
    question = tmp_path / "brief.yaml"
    question.write_text("topic: heat pumps\nregion: Nordics\n")
    cut = _sophia(tmp_path, env, "workflow", "run", "market_brief", "-i", str(question), "--budget", "0.0001",
                  "--json")
    assert cut.returncode == 3 and json.loads(cut.stdout)["stopped"] == "budget"
    bad = _sophia(tmp_path, env, "workflow", "run", "security_review", "--input", "missing.py")
    assert bad.returncode == 1 and "--input missing.py: cannot be read" in bad.stderr
    assert (tmp_path / "data" / "analytics.db").exists()


class Terminal:
    """A tmux session of its own (its own server socket) running bash, driven with send-keys."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.socket = f"sophia-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.tmux("new-session", "-d", "-s", "main", "-x", "150", "-y", "45", "-c", str(cwd),
                  "bash --norc --noprofile")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True,
                              env=self.env, timeout=30)
        return done.stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "main", line, "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def wait_for(self, *texts: str, within: float = 60) -> str:
        deadline = time.monotonic() + within
        while True:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed {texts}; it shows:\n{screen}")
            time.sleep(0.1)  # polling the terminal's screen

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, capture_output=True, timeout=30)


@pytest.fixture
def terminal(tmp_path, e2e_env) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        need_service("tmux", "`tmux` is not on PATH; apt-get install tmux")
    term = Terminal(_env(tmp_path, e2e_env), tmp_path)
    yield term
    term.close()


def test_the_live_display_in_a_real_terminal(terminal, tmp_path, simulators):
    (tmp_path / "auth.py").write_text(CODE)
    simulators.control.set_fault("openai", Fault(latency_ms=4000, times=1))  # the report step takes a while
    terminal.type(f"{SOPHIA} workflow run security_review --input auth.py --budget 0.05; echo exit=$?")
    during = terminal.wait_for("report", "running", "cost so far $")
    for provider in ("groq/llama-3.3-70b-versatile", "anthropic/claude-sonnet-4-5", "deepseek/deepseek-chat"):
        assert provider in during  # each finished step shows who served it while the next one runs
    assert during.count("✓ done") == 3 and "of $0.05" in during
    after = terminal.wait_for("exit=0")
    assert "openai/gpt-4o" in after and "completed · $" in after and "running" not in after


def test_ctrl_c_in_the_terminal_stops_the_calls_in_flight(terminal, tmp_path, simulators):
    (tmp_path / "auth.py").write_text(CODE)
    simulators.control.set_fault("openai", Fault(mode="stall_headers"))
    terminal.type(f"{SOPHIA} workflow run security_review --input auth.py; echo exit=$?")
    terminal.wait_for("report", "running")
    terminal.tmux("send-keys", "-t", "main", "C-c")
    screen = terminal.wait_for("exit=130")
    assert "cancelled" in screen
    deadline = time.monotonic() + 10
    while simulators.control.stats("openai")["in_flight"]:
        assert time.monotonic() < deadline, "the stalled call was not ended at the provider"
        time.sleep(0.05)  # polling the simulator's count
