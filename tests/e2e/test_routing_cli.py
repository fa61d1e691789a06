"""`sophia routes check|show`, `sophia ask` on roles and routes of a file, `sophia experiments`, and
`sophia serve` reloading its routing file on SIGHUP under load."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from app.gateway.process import free_port
from tests.e2e.conftest import SOPHIA
from tests.e2e.test_cli_commands import _env, _sophia
from tests.e2e.test_routing_service import BEFORE, _wait, check_reload, reload_under_load
from tests.unit.test_routing_file import EXAMPLE

pytestmark = pytest.mark.e2e


def _routing(tmp_path: Path, text: str = EXAMPLE) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return path


def test_routes_check_validates_without_starting_anything(tmp_path):
    env = _env(tmp_path)  # no gateway, no keys: nothing is started or called
    good = _sophia(tmp_path, env, "routes", "check", str(_routing(tmp_path)))
    assert good.returncode == 0, good.stderr
    assert "valid" in good.stdout and "route/support_ab" in good.stdout and "artemis/test_writer" in good.stdout
    bad = _sophia(tmp_path, env, "routes", "check", str(_routing(tmp_path, EXAMPLE.replace("$eq", "$equals"))))
    assert bad.returncode == 1
    assert "routing.yaml:17:" in bad.stderr and "routes.tiered.conditions[0].query.metadata.tier.$equals" in bad.stderr
    assert _sophia(tmp_path, env, "routes", "check", str(tmp_path / "missing.yaml")).returncode == 2


def test_routes_show_prints_the_compiled_config_with_keys_redacted(tmp_path, e2e_env):
    env = {**_env(tmp_path, e2e_env), "SOPHIA_ROUTING_FILE": str(_routing(tmp_path))}
    shown = _sophia(tmp_path, env, "routes", "show", "support_ab")
    assert shown.returncode == 0, shown.stderr
    config = json.loads(shown.stdout)["configs"]["config"]
    assert config["strategy"] == {"mode": "loadbalance"}
    assert [(t["override_params"]["model"], t["weight"], t["api_key"]) for t in config["targets"]] == [
        ("gpt-4o-mini", 0.8, "***"), ("llama-3.1-8b-instant", 0.2, "***")]
    smart = json.loads(_sophia(tmp_path, env, "routes", "show", "smart").stdout)
    assert set(smart["configs"]) == {"complexity=simple", "complexity=complex"} and smart["decided_before_sending"]
    role = json.loads(_sophia(tmp_path, env, "routes", "show", "sophia/market_analyst").stdout)
    assert role["configs"]["config"]["targets"][0]["override_params"]["search_recency_filter"] == "month"
    for key in (v for k, v in e2e_env.items() if k.endswith("_API_KEY")):
        assert key not in shown.stdout and key not in smart["configs"].__repr__()
    unknown = _sophia(tmp_path, env, "routes", "show", "nope")
    assert unknown.returncode == 1 and "unknown route 'nope'" in unknown.stderr


def test_ask_reaches_a_role_and_a_route_of_the_file_and_experiments_compare(tmp_path, e2e_env):
    env = {**_env(tmp_path, e2e_env), "SOPHIA_ROUTING_FILE": str(_routing(tmp_path)), "CACHE_TTL": "0"}
    writer = _sophia(tmp_path, env, "ask", "def add(a, b): return a + b", "-m", "artemis/test_writer")
    assert writer.returncode == 0, writer.stderr
    assert "[openai/gpt-4o]" in writer.stdout
    premium = _sophia(tmp_path, env, "ask", "Hello", "-m", "route/tiered", "--meta", "tier=premium")
    assert "[anthropic/claude-sonnet-4-5]" in premium.stdout and "route tiered" in premium.stdout
    for user in ("ann", "bob", "cy", "dee"):
        ab = _sophia(tmp_path, env, "ask", f"Help {user}", "-m", "route/support_ab", "--meta", f"user_id={user}")
        assert ab.returncode == 0 and "variant " in ab.stdout
    report = _sophia(tmp_path, env, "experiments", "support_ab", "--json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["name"] == "support_ab" and sum(v["requests"] for v in data["variants"]) == 4
    table = _sophia(tmp_path, env, "experiments", "support_ab")
    assert "Experiment support_ab" in table.stdout


def test_serve_reloads_its_routing_file_on_sighup_under_load(tmp_path, e2e_env):
    routing = _routing(tmp_path, BEFORE)
    port = free_port()
    env = {**_env(tmp_path, e2e_env), "SOPHIA_ROUTING_FILE": str(routing), "SOPHIA_ROUTING_WATCH": "0",
           "CACHE_TTL": "0", "SOPHIA_RATE_LIMIT": "100000/minute"}
    proc = subprocess.Popen([str(SOPHIA), "serve", "--port", str(port), "--log-level", "warning"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "exited"
            try:
                return httpx.get(url + "/v1/routes", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        _wait(up, "the service", timeout=60)
        # The watch is off (SOPHIA_ROUTING_WATCH=0): only SIGHUP makes it read the file again.
        check_reload(reload_under_load(url, routing, trigger=lambda: proc.send_signal(signal.SIGHUP)))
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "routing policy not reloaded" in output and "unknown provider 'nope'" in output
