"""The runtime file of `make run`'s service and what the composition root makes of it: the sandbox is used
only when no provider is configured, a real key always wins, and a stale file is ignored and removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.core.local_service import (
    LocalSandbox,
    LocalService,
    find_local_service,
    remove_runtime_file,
    runtime_file,
    write_runtime_file,
)
from app.core.providers import PROVIDERS
from app.runtime import build_runtime, environment_settings, use_settings
from app.vectors.registry import close_stores, get_store

SIMULATORS = {name: f"http://127.0.0.1:{9100 + i}/{name}/v1" for i, name in enumerate(PROVIDERS)}


def _service(pid: int, data_dir, **kw) -> LocalService:
    sandbox = LocalSandbox(gateway_url="http://127.0.0.1:9099/v1", control_url="http://127.0.0.1:9098",
                           simulators=SIMULATORS)
    return LocalService(pid=pid, url="http://127.0.0.1:9097/", qdrant_path=str(data_dir / "qdrant"),
                        sandbox=sandbox, **kw)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data folder of our own, no provider variables, and a process runtime rebuilt around the test."""
    for name in list(os.environ):
        if name.startswith(("PORTKEY_", *(p.env_prefix + "_" for p in PROVIDERS.values()))):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QDRANT_PATH", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    use_settings(None)
    yield tmp_path
    use_settings(None)
    close_stores()


def test_the_file_round_trips_and_only_its_writer_removes_it(data_dir):
    other = _service(os.getppid(), data_dir)  # a live process that is not this one
    path = write_runtime_file(data_dir, other)
    assert path == runtime_file(data_dir) and oct(path.stat().st_mode & 0o777) == "0o600"
    assert find_local_service(data_dir) == other and not other.ours
    assert other.holds(str(data_dir / "qdrant")) and not other.holds(str(data_dir / "elsewhere"))
    remove_runtime_file(path)
    assert path.exists(), "another process's file stays"
    ours = write_runtime_file(data_dir, _service(os.getpid(), data_dir))
    assert find_local_service(data_dir).ours and not find_local_service(data_dir).holds(str(data_dir / "qdrant"))
    remove_runtime_file(ours)
    assert not ours.exists() and find_local_service(data_dir) is None


def test_a_stale_file_is_ignored_and_removed(data_dir):
    path = write_runtime_file(data_dir, _service(_dead_pid(), data_dir))
    assert find_local_service(data_dir) is None and not path.exists()
    assert environment_settings().sandboxed == ()


def test_an_unreadable_file_is_ignored(data_dir):
    runtime_file(data_dir).write_text("{not json")
    assert find_local_service(data_dir) is None


def test_no_key_uses_the_sandbox_of_the_running_service(data_dir):
    write_runtime_file(data_dir, _service(os.getppid(), data_dir))
    found = environment_settings()
    assert found.sandboxed == tuple(PROVIDERS)
    settings = found.settings
    assert settings.gateway_url == "http://127.0.0.1:9099/v1" and settings.max_retries == 1
    assert settings.provider(PROVIDERS["groq"]).base_url == SIMULATORS["groq"]
    assert found.notice.startswith("SANDBOX: no provider key is set, so the simulators of the Sophia service")
    assert f"pid {os.getppid()}" in found.notice and "http://127.0.0.1:9097/" in found.notice
    runtime = build_runtime()
    assert runtime.sandbox_notice == found.notice and runtime.manager.router.configured_providers() == list(PROVIDERS)


@pytest.mark.parametrize("variables", [{"GROQ_API_KEY": "gsk_0123456789abcdef0123"},
                                       {"PORTKEY_API_KEY": "pk-real-0123456789", "OPENAI_VK": "vk-openai-0123456"}])
def test_a_real_key_always_wins(data_dir, monkeypatch, variables):
    write_runtime_file(data_dir, _service(os.getppid(), data_dir))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    found = environment_settings()
    assert found.sandboxed == () and found.notice is None
    assert found.settings.gateway_url != "http://127.0.0.1:9099/v1"
    assert found.local_service is not None, "the service is still known (its Qdrant folder, for one)"


def test_placeholders_do_not_count_as_keys(data_dir, monkeypatch, caplog):
    """The spec's .env example copied verbatim: no provider is configured, so the sandbox stands in."""
    write_runtime_file(data_dir, _service(os.getppid(), data_dir))
    (data_dir / ".env").write_text("PORTKEY_API_KEY=your_portkey_api_key\nOPENAI_VK=openai-vk-xxxxx\n"
                                   "QDRANT_URL=your_qdrant_url\nQDRANT_API_KEY=your_qdrant_key\n")
    monkeypatch.setattr("app.core.settings._warned_placeholders", set())  # a fresh process, as far as warnings go
    with caplog.at_level("WARNING", logger="app.core.settings"):
        found = environment_settings()
        environment_settings()
    assert found.sandboxed and not found.settings.hosted and found.settings.qdrant_url is None
    (warned,) = [r.getMessage() for r in caplog.records if "template" in r.getMessage()]  # one, not one per read
    assert warned.startswith("PORTKEY_API_KEY, QDRANT_URL, QDRANT_API_KEY hold a value copied from a template")
    assert "your_" not in warned, "values are never echoed"


def test_a_folder_the_service_holds_is_reached_through_it(data_dir):
    write_runtime_file(data_dir, _service(os.getppid(), data_dir))
    store = get_store(environment_settings().settings)
    assert type(store).__name__ == "ServiceHeldStore" and "http://127.0.0.1:9097/" in store.via
    close_stores()
    json_path = runtime_file(data_dir)
    raw = json.loads(json_path.read_text())
    raw["qdrant_path"] = None  # a service on a Qdrant server holds no folder
    json_path.write_text(json.dumps(raw))
    assert type(get_store(environment_settings().settings)).__name__ == "QdrantStore"
