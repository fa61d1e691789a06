"""Our pinned gateway runs with its source patches (gateway/source-patches.cjs), and they change no byte.

The one patch today removes the gateway's fixed 25 ms wait before a stream's first chunk. How much
sooner the first chunk arrives is measured by ``bench/peers.py`` (timing is not asserted here).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.core.providers import PROVIDERS
from app.gateway import GatewayProcess, gateway_dir
from app.gateway.process import PRELOADS
from app.simulators.process import start_simulators_process

FROZEN_CLOCK = Path(__file__).with_name("frozen_clock.cjs")
LOOPBACK_ONLY = ("loopback-preload.cjs",)
ENTRY = Path("node_modules/@portkey-ai/gateway/build/start-server.js")
APPLIED = "sophia: gateway source patches applied: stream-first-chunk-wait"


@pytest.fixture(scope="module")
def stable_simulators() -> Iterator[Any]:
    """Simulators whose ids and timestamps depend only on the request: both gateways get the same bytes."""
    with start_simulators_process(extra_args=["--stable-ids"]) as sims:
        yield sims


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GatewayProcess]]:
    """The gateway as we run it and the gateway as npm ships it, both with the same frozen clock."""
    logs = tmp_path_factory.mktemp("gateways")
    patched = GatewayProcess(log_path=logs / "patched.log", preloads=(*PRELOADS, FROZEN_CLOCK))
    unpatched = GatewayProcess(log_path=logs / "unpatched.log", preloads=(*LOOPBACK_ONLY, FROZEN_CLOCK))
    with patched, unpatched:
        yield {"patched": patched, "unpatched": unpatched}


def stream_request(provider: str, base_url: str) -> tuple[dict[str, str], dict[str, Any]]:
    spec = PROVIDERS[provider]
    target = {"provider": spec.slug, "api_key": "sk-test-key", "custom_host": spec.custom_host(base_url)}
    headers = {"x-portkey-config": json.dumps(target), "x-portkey-strict-open-ai-compliance": "false"}
    body = {"model": spec.chat_model, "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "Stream a greeting across several chunks please"}]}
    return headers, body


def received_bytes(url: str, headers: dict[str, str], body: dict[str, Any]) -> bytes:
    with httpx2.Client(timeout=10) as client, client.stream("POST", url, headers=headers, json=body) as response:
        assert response.status_code == 200, response.read()
        return b"".join(response.iter_raw())


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_streams_are_byte_identical_with_and_without_the_patch(gateways, stable_simulators, provider):
    headers, body = stream_request(provider, stable_simulators.base_urls[provider])
    patched = received_bytes(gateways["patched"].url + "/chat/completions", headers, body)
    unpatched = received_bytes(gateways["unpatched"].url + "/chat/completions", headers, body)
    assert patched == unpatched
    chunks = sse_chunks(patched)
    assert len(chunks) > 8  # a whole answer, one word per chunk, ending in [DONE]
    assert "Stream a greeting across several chunks please" in "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"])


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    events = raw.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    return [json.loads(event.removeprefix("data: ")) for event in events[:-2]]


def test_openai_streams_pass_through_the_patched_gateway_unchanged(gateways, stable_simulators):
    """For OpenAI itself the gateway's transformation is the identity: the client gets the provider's bytes."""
    base_url = stable_simulators.base_urls["openai"]
    headers, body = stream_request("openai", base_url)
    direct = received_bytes(base_url + "/chat/completions", {"authorization": "Bearer sk-test-key"}, body)
    assert received_bytes(gateways["patched"].url + "/chat/completions", headers, body) == direct


def test_the_gateway_we_run_has_the_patch_applied(gateway, artifacts_dir):
    assert "source-patches.cjs" in PRELOADS
    assert APPLIED in (artifacts_dir / "gateway.log").read_text()


def test_the_gateway_as_npm_ships_it_reports_no_patch(gateways):
    assert APPLIED not in gateways["unpatched"].log_path.read_text()
    assert APPLIED in gateways["patched"].log_path.read_text()


def copy_of_gateway(tmp_path: Path, entry_source: bytes) -> Path:
    """A gateway directory with our preloads and the given entry file (nothing else of the install)."""
    tmp_path.mkdir()
    for preload in (*PRELOADS, "source-patches-hooks.mjs"):
        shutil.copy(gateway_dir() / preload, tmp_path / preload)
    (tmp_path / ENTRY).parent.mkdir(parents=True)
    (tmp_path / ENTRY).write_bytes(entry_source)
    return tmp_path


def test_a_changed_gateway_file_stops_the_gateway_from_starting(tmp_path):
    original = (gateway_dir() / ENTRY).read_bytes()
    changed = original.replace(b"setTimeout(e,25)", b"setTimeout(e,20)")
    assert changed != original
    process = GatewayProcess(log_path=tmp_path / "gateway.log", directory=copy_of_gateway(tmp_path / "gw", changed))
    with pytest.raises(RuntimeError, match="exited with 1 while starting"):
        process.start()
    log = (tmp_path / "gateway.log").read_text()
    assert 'SourcePatchError: gateway source patch "stream-first-chunk-wait" not applied' in log
    assert f"its SHA-256 is {hashlib.sha256(changed).hexdigest()}" in log


def test_a_gateway_loaded_past_the_patch_refuses_to_listen(tmp_path):
    """Preloads that check one copy of the file while Node runs another: the server must not start."""
    elsewhere = copy_of_gateway(tmp_path / "gw", (gateway_dir() / ENTRY).read_bytes())
    process = GatewayProcess(log_path=tmp_path / "gateway.log",
                             preloads=[elsewhere / preload for preload in PRELOADS])
    with pytest.raises(RuntimeError, match="exited with 1 while starting"):
        process.start()
    assert "without passing the file through the patch" in (tmp_path / "gateway.log").read_text()


def test_a_patch_whose_text_is_not_found_exactly_once_is_refused():
    """After a version bump the hash is updated first; the text check then catches a moved `find`."""
    script = """
    const { patchSource } = require(process.argv[1]);
    const source = Buffer.from('a(); a();');
    const sha256 = require('node:crypto').createHash('sha256').update(source).digest('hex');
    for (const find of ['b()', 'a()']) {
      try { patchSource({ name: 'demo', file: 'f.js', sha256, find, replace: '' }, source); }
      catch (err) { console.log(err.message); }
    }
    console.log(patchSource({ name: 'demo', file: 'f.js', sha256, find: 'a(); a()', replace: 'b()' }, source));
    """
    result = subprocess.run(["node", "-e", script, str(gateway_dir() / "source-patches.cjs")],
                            capture_output=True, text=True, check=True, timeout=30)
    refusal = ('gateway source patch "demo" not applied to f.js: the text to replace occurs {} times, not once. '
               "The gateway refuses to run unpatched; review gateway/source-patches.cjs against the installed gateway.")
    assert result.stdout.splitlines() == [refusal.format(0), refusal.format(2), "b();"]
