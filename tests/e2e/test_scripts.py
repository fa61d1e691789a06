"""The spec's two scripts end to end: setup writes .env, the integration check passes on it, and a
broken provider makes it fail by name. Run as a newcomer would: `python scripts/...` in a fresh folder."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.providers import PROVIDERS
from app.simulators import Fault
from tests.e2e.conftest import REPO, SOPHIA

pytestmark = pytest.mark.e2e
SETUP = str(REPO / "scripts" / "setup_portkey_keys.py")
CHECK = str(REPO / "scripts" / "test_portkey_integration.py")
# Fake keys in each provider's documented shape (the simulators accept any key).
FAKE_KEYS = {"openai": "sk-test0123456789abcdef0123", "anthropic": "sk-ant-test0123456789abcdef",
             "deepseek": "sk-test0123456789abcdef", "groq": "gsk_0123456789abcdef0123456789",
             "mistral": "mistral0123456789abcdef01234567", "together": "together0123456789abcdef0123456789",
             "perplexity": "pplx-0123456789abcdef01"}
CHECKS = ("Portkey connection", "Virtual keys configured", "Provider health checks", "Completion tests",
          "Embedding generation", "Factory integration")


def _env(tmp_path, **extra: str) -> dict[str, str]:
    # Only what a newcomer's shell would have: no provider variables leak in from the test process.
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MAX_RETRIES": "0", "MEMORY_ENABLED": "false",
            "SOPHIA_DATA_DIR": str(tmp_path / "data"), **extra}


def _setup_values(gateway, simulators) -> dict[str, str]:
    values = {"PORTKEY_BASE_URL": gateway.url}
    for name, provider in PROVIDERS.items():
        values[provider.api_key_env] = FAKE_KEYS[name]
        values[provider.base_url_env] = simulators.base_urls[name]
    return values


def _run(cmd: list[str], tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_setup_then_integration_check_pass(tmp_path, gateway, simulators):
    values = _setup_values(gateway, simulators)
    (tmp_path / ".env").write_text("# my own notes\nEXTRA_SETTING=keep-me\n")
    refused = _run([sys.executable, SETUP, "--non-interactive"], tmp_path, _env(tmp_path, **values))
    assert refused.returncode == 1 and "--force" in refused.stderr
    written = _run([sys.executable, SETUP, "--non-interactive", "--force", "--verify"], tmp_path,
                   _env(tmp_path, **values))
    assert written.returncode == 0, written.stdout + written.stderr
    assert written.stdout.count("✅") == len(PROVIDERS)
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    assert "# my own notes\nEXTRA_SETTING=keep-me\n" in text
    assert f"GROQ_API_KEY={FAKE_KEYS['groq']}" in text
    for key in FAKE_KEYS.values():
        assert key not in written.stdout + written.stderr

    # The check reads .env from the working directory: nothing but the file configures it.
    checked = _run([sys.executable, CHECK], tmp_path, _env(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for name in CHECKS:
        assert f"✅ {name}" in checked.stdout
    reports = list(tmp_path.glob("portkey_test_results_*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["passed"] and [c["status"] for c in report["checks"]] == ["pass"] * 6
    assert report["versions"]["python"] and set(report["checks"][3]["providers"]) == set(PROVIDERS)
    raw = reports[0].read_text()
    for key in FAKE_KEYS.values():
        assert key not in raw


def test_integration_check_names_a_failing_provider(tmp_path, gateway, simulators):
    values = _setup_values(gateway, simulators)
    simulators.control.set_fault("groq", Fault(status=500))
    checked = _run([sys.executable, CHECK, "--output-dir", str(tmp_path / "out")], tmp_path,
                   _env(tmp_path, **values))
    assert checked.returncode == 1
    assert "❌ Provider health checks" in checked.stdout and "❌ Completion tests" in checked.stdout
    assert "failing provider(s): groq" in checked.stdout
    report = json.loads(next((tmp_path / "out").glob("portkey_test_results_*.json")).read_text())
    assert not report["passed"]
    completion = next(c for c in report["checks"] if c["name"] == "Completion tests")
    assert completion["status"] == "fail" and not completion["providers"]["groq"]["ok"]
    assert completion["providers"]["openai"]["ok"]


def test_setup_rejects_malformed_keys_without_echoing_them(tmp_path):
    bad = "gsk-wrong shape"
    result = _run([sys.executable, SETUP, "--non-interactive", "--set", f"GROQ_API_KEY={bad}",
                   "--set", "OPENAI_API_KEY=sk-your_openai_key"], tmp_path, _env(tmp_path))
    assert result.returncode == 2
    assert "GROQ_API_KEY" in result.stderr and "OPENAI_API_KEY: looks like a placeholder" in result.stderr
    assert bad not in result.stderr
    assert not (tmp_path / ".env").exists()


def test_sophia_check_sandbox_starts_its_own_gateway(tmp_path):
    result = _run([str(SOPHIA), "check", "--sandbox"], tmp_path, _env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "simulated providers: openai, anthropic" in result.stdout and result.stdout.count("✅") == 6


def test_the_scripts_rerun_themselves_under_the_projects_venv(tmp_path):
    """`python scripts/...` typed with an interpreter that lacks the dependencies (here: the base Python with
    site-packages off) re-runs under the checkout's .venv; without a .venv it says exactly what to run."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("setup_portkey_keys.py", "test_portkey_integration.py", "project_python.py"):
        shutil.copy(REPO / "scripts" / name, checkout / "scripts" / name)
    (checkout / "app").symlink_to(REPO / "app")
    bare = [getattr(sys, "_base_executable", sys.executable), "-S"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    missing = _run([*bare, str(checkout / "scripts" / "test_portkey_integration.py"), "--help"], tmp_path, env)
    assert missing.returncode == 1 and "Run `make setup` in" in missing.stderr and str(checkout) in missing.stderr

    venv = checkout / ".venv"
    subprocess.run([bare[0], "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    # The project's venv, as `make setup` would leave it: the dependencies importable from it.
    (site / "deps.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    for script, flag in ((CHECK, "--sandbox"), (SETUP, "--non-interactive")):
        ran = _run([*bare, str(checkout / "scripts" / Path(script).name), "--help"], tmp_path, env)
        assert ran.returncode == 0, ran.stderr
        assert flag in ran.stdout
