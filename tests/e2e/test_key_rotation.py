"""Key rotation under load: a real `sophia serve`, a real client keeping requests in flight,
`sophia keys rotate` in another process, then the old key revoked at the (simulated) provider."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.gateway.process import free_port
from app.keys import fingerprint
from tests.e2e.conftest import SOPHIA, wait_until_serving

pytestmark = pytest.mark.e2e
# Made up per run: nothing key-shaped is committed, and no two runs share a key.
OLD = f"sk-{secrets.token_hex(16)}"
NEW = f"sk-{secrets.token_hex(16)}"
CONCURRENCY = 16


def _env_file(path: Path, gateway_url: str, base_url: str, port: int) -> None:
    path.write_text(f"PORTKEY_BASE_URL={gateway_url}\nOPENAI_API_KEY={OLD}\nOPENAI_BASE_URL={base_url}\n"
                    f"SOPHIA_PORT={port}\nMAX_RETRIES=0\nCACHE_TTL=0\nKEY_WATCH_INTERVAL=0.2\n"
                    "KEY_GRACE_SECONDS=600\nCIRCUIT_BREAKER=false\nSOPHIA_RATE_LIMIT=100000/minute\n")
    path.chmod(0o600)


async def _fingerprint_in_service(client: httpx.AsyncClient) -> str:
    keys = (await client.get("/api/keys")).json()["keys"]
    return next(k["fingerprint"] for k in keys if k["variable"] == "OPENAI_API_KEY")


async def test_rotating_a_key_under_load_fails_no_request(gateway, simulators, tmp_path, artifacts_dir):
    control = simulators.control
    port = free_port()
    _env_file(tmp_path / ".env", gateway.url, simulators.base_urls["openai"], port)
    env = {**os.environ, "SOPHIA_DATA_DIR": str(tmp_path / "data")}
    log = open(artifacts_dir / "rotation-serve.log", "w")  # noqa: SIM115 - closed in finally
    serve = subprocess.Popen([str(SOPHIA), "serve", "--log-level", "warning"], cwd=tmp_path, env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    await control.aset_fault("openai", latency_ms=150)  # so that requests are in flight at the switch
    stats: dict[str, int] = {"ok": 0, "failed": 0, "in_flight": 0, "max_in_flight": 0, "after_revoke": 0}
    failures: list[str] = []
    started_at: dict[int, float] = {}
    stop = asyncio.Event()
    revoked = asyncio.Event()
    done_enough = asyncio.Event()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_until_serving(f"http://127.0.0.1:{port}", "/api/keys", serve)
            assert await _fingerprint_in_service(client) == fingerprint(OLD)

            async def worker(n: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    key = n * 1_000_000 + i
                    started_at[key] = time.monotonic()
                    stats["in_flight"] += 1
                    stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
                    after_revoke = revoked.is_set()
                    try:
                        r = await client.post("/v1/chat/completions", json={
                            "model": "openai/gpt-4o", "fallbacks": [],
                            "messages": [{"role": "user", "content": f"rotation {n} {i}"}]})
                        if r.status_code == 200:
                            stats["ok"] += 1
                            stats["after_revoke"] += 1 if after_revoke else 0
                        else:
                            stats["failed"] += 1
                            failures.append(f"{r.status_code} {r.text[:200]}")
                    except httpx.HTTPError as exc:
                        stats["failed"] += 1
                        failures.append(type(exc).__name__)
                    finally:
                        stats["in_flight"] -= 1
                        del started_at[key]
                    if stats["ok"] >= 60 and revoked.is_set() and stats["after_revoke"] >= 60:
                        done_enough.set()

            workers = [asyncio.create_task(worker(n)) for n in range(CONCURRENCY)]
            async with asyncio.timeout(30):  # load is running (a test that cannot get there fails, never hangs)
                while stats["ok"] < 40:
                    await asyncio.sleep(0.05)
            in_flight_at_rotation = stats["in_flight"]
            rotate = await asyncio.create_subprocess_exec(
                str(SOPHIA), "keys", "rotate", "openai", cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output, _ = await asyncio.wait_for(rotate.communicate(NEW.encode() + b"\n"), 60)
            assert rotate.returncode == 0, output.decode()
            switch_deadline = time.monotonic() + 20
            while await _fingerprint_in_service(client) != fingerprint(NEW):
                assert time.monotonic() < switch_deadline, "the service did not pick the new key up"
                await asyncio.sleep(0.05)  # polling the service's key fingerprint
            switched = time.monotonic()
            # The grace period: calls that started before the switch may still carry the old key.
            async with asyncio.timeout(30):
                while any(t <= switched for t in list(started_at.values())):
                    await asyncio.sleep(0.01)
            await control.arevoke_keys("openai", [fingerprint(OLD)])
            revoked.set()
            await asyncio.wait_for(done_enough.wait(), 60)
            stop.set()
            await asyncio.gather(*workers)
            uses = (await control.astats("openai"))["key_uses"]
    finally:
        await control.arevoke_keys("openai", [])
        await control.aclear_faults("openai")
        serve.terminate()
        serve.wait(20)
        log.close()
    text = (tmp_path / ".env").read_text()
    report = (f"rotation under load: {stats['ok']} requests ok, {stats['failed']} failed, {in_flight_at_rotation} in "
              f"flight when `sophia keys rotate` started, up to {stats['max_in_flight']} in flight, "
              f"{stats['after_revoke']} after the old key was revoked; provider saw {uses}")
    print(report)
    (artifacts_dir / "rotation.txt").write_text(report + "\n")
    assert failures == [] and stats["failed"] == 0
    assert uses.get(fingerprint(OLD), 0) > 0 and uses.get(fingerprint(NEW), 0) >= 60
    assert f"OPENAI_API_KEY={NEW}" in text and OLD not in text
    assert oct((tmp_path / ".env").stat().st_mode & 0o777) == "0o600"
    assert NEW not in output.decode() and fingerprint(NEW) in output.decode()
    assert "Keep the old key" in output.decode()
