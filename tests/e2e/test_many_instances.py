"""Two service instances (one of them `--workers 2`) on one Redis and one PostgreSQL act as one:
shared cache hits, shared limits, shared breaker state, one analytics history, and one alert
notification for a condition several processes see (with its delivery latency measured).

Agent memory is off: a Qdrant server (what several instances need) cannot run on this machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app.gateway.process import free_port
from tests.conftest import sandbox_env
from tests.e2e.conftest import SOPHIA, wait_until_serving
from tests.e2e.test_analytics_stores import _postgres_url
from tests.support import need_service
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
REDIS = "redis://127.0.0.1:6379/0"
GROQ = "groq/llama-3.3-70b-versatile"


async def _redis_up() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        need_service("Redis at 127.0.0.1:6379", type(exc).__name__)
    finally:
        await client.aclose()


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (multiprocessing's resource tracker is a child too)."""
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


async def _wait_for_rows(pg_url: str, wanted: set[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        deadline = time.monotonic() + 30
        while True:
            rows = await conn.fetch("SELECT trace_id FROM sophia_requests WHERE trace_id = ANY($1::text[])",
                                    list(wanted))
            if {r["trace_id"] for r in rows} == wanted:
                return
            assert time.monotonic() < deadline, f"{len(wanted) - len(rows)} rows missing"
            await asyncio.sleep(0.2)  # the analytics writer flushes in the background
    finally:
        await conn.close()


async def _forget(namespace: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS)
    keys = await client.keys(f"{namespace}*")
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _chat(client: httpx.AsyncClient, model: str, prompt: str, **extra: object) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": prompt}], **extra})


async def _alerts_until(receiver: WebhookReceiver, names: set[str]) -> dict[str, list[tuple[float, dict]]]:
    """The webhooks received (arrival time, body) by alert name, until every one of ``names`` came."""
    received: dict[str, list[tuple[float, dict]]] = {}
    while not names <= set(received):
        try:
            at, body = await receiver.next(30)
        except TimeoutError:
            raise AssertionError(f"alerts received so far: {sorted(received)}, expected {sorted(names)}") from None
        received.setdefault(body["alertname"], []).append((at, body))
    return received


def _stop(processes: list[subprocess.Popen]) -> list[int]:
    """SIGTERM each instance; the indexes of those that had to be killed after 30 s."""
    for process in processes:
        process.terminate()
    stuck = []
    for i, process in enumerate(processes):
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            stuck.append(i)
    return stuck


async def test_two_instances_and_two_workers_share_state(gateway, simulators, tmp_path, artifacts_dir):
    await _redis_up()
    pg_url = await _postgres_url()
    receiver = await WebhookReceiver().start()
    namespace = f"t{uuid.uuid4().hex[:8]}"
    rules = tmp_path / "alerts.yaml"
    rules.write_text("alerts:\n  - {name: GroqFailing, signal: provider_failure_rate, above: 1, clear: 0.5,"
                     " window: 1m, for: 0s, min_requests: 1, severity: warning,"
                     " summary: '{provider}: every attempt failed'}\n")
    env = {**os.environ, **sandbox_env(gateway.url, simulators.base_urls),
           "REDIS_URL": REDIS, "REDIS_NAMESPACE": namespace, "DATABASE_URL": pg_url, "MAX_RETRIES": "0",
           "MEMORY_ENABLED": "false", "SOPHIA_RATE_LIMIT": "100000/minute",
           "SOPHIA_ALERTS_FILE": str(rules),
           "SOPHIA_HEALTH_INTERVAL": "0",  # no background probe may add a provider call to the counts
           "ALERTS_INTERVAL": "0.5", "ALERT_WEBHOOKS": json.dumps([{"url": receiver.url}]),
           "ALERT_WEBHOOK_BACKOFF": "0.1", "CIRCUIT_MIN_REQUESTS": "4", "CIRCUIT_COOLDOWN": "120",
           "ROLE_LIMITS": json.dumps({"sophia/sales_strategist": {"requests_per_minute": 6}})}
    ports = free_port(), free_port()
    logs = [open(artifacts_dir / f"instance-{i}.log", "w") for i in range(2)]  # noqa: SIM115 - closed below
    commands = [[str(SOPHIA), "serve", "--port", str(ports[0]), "--log-level", "warning"],
                [str(SOPHIA), "serve", "--port", str(ports[1]), "--workers", "2", "--log-level", "warning"]]
    processes = []
    for i, command in enumerate(commands):
        data = tmp_path / f"data-{i}"
        processes.append(subprocess.Popen(command, cwd=tmp_path, stdout=logs[i], stderr=subprocess.STDOUT,
                                          env={**env, "SOPHIA_DATA_DIR": str(data),
                                               "QDRANT_PATH": str(data / "qdrant")}))
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    checks: list[str] = []
    try:
        for url, process in zip(urls, processes, strict=True):
            await wait_until_serving(url, "/api/alerts", process)
        assert len(_workers(processes[1].pid)) == 2, "--workers 2 runs two worker processes"
        a, b = (httpx.AsyncClient(base_url=url, timeout=30) for url in urls)
        traces = []

        # 1. Cache: an answer computed by A is a hit on B (whichever worker answers).
        before = (await simulators.control.astats("openai"))["total"]
        prompt = f"shared cache {namespace}"
        first = await _chat(a, "openai/gpt-4o", prompt)
        hits = [await _chat(b, "openai/gpt-4o", prompt) for _ in range(4)]
        assert first.json()["routing"]["cached"] is None
        assert [h.json()["routing"]["cached"] for h in hits] == ["hit"] * 4
        assert (await simulators.control.astats("openai"))["total"] == before + 1
        traces += [first.headers["x-sophia-trace-id"], *(h.headers["x-sophia-trace-id"] for h in hits)]
        checks.append("cache: 1 provider call through A, then 4 hits through B (--workers 2)")

        # 2. Limits: 6 requests per minute for the role, counted across both instances and all workers.
        statuses = []
        for i in range(8):
            r = await _chat(a if i % 2 == 0 else b, "sophia/sales_strategist", f"limit {namespace} {i}")
            statuses.append(r.status_code)
            traces.append(r.headers.get("x-sophia-trace-id", ""))
        assert statuses == [200] * 6 + [429, 429], statuses
        checks.append(f"limits: {statuses.count(200)} of 8 admitted at 6/minute across instances, then 429")

        # 3. Breakers: A opens groq's circuit; B keeps groq last without trying it.
        await simulators.control.aset_fault("groq", status=500)
        answered: list[float] = []
        for i in range(4):
            r = await _chat(a, GROQ, f"breaker {namespace} {i}")
            assert r.status_code == 200 and r.json()["routing"]["fallback_used"]
            answered.append(time.time())  # the call was observed just before its answer left the service
            traces.append(r.headers["x-sophia-trace-id"])
        on_b = (await _chat(b, GROQ, f"breaker {namespace} b")).json()["routing"]
        assert GROQ in on_b["circuit_open"] and on_b["provider"] != "groq"
        assert "groq" not in {attempt["provider"] for attempt in on_b["attempts"]}
        checks.append("breakers: circuit opened by A's traffic, groq kept last and untried on B")

        # 4. Alerts: the first failed groq attempt fires GroqFailing (evaluated as the call finishes);
        # the circuit opened in Redis fires CircuitOpen once, though several processes see it.
        received = await _alerts_until(receiver, {"GroqFailing", "CircuitOpen"})
        failing_latency = received["GroqFailing"][0][0] - answered[0]
        circuit_latency = received["CircuitOpen"][0][0] - answered[-1]
        deadline = time.monotonic() + 30
        while True:  # until one of B's workers sees the open circuit firing too
            local = (await b.get("/api/alerts")).json()["local"]
            if any(x["alertname"] == "CircuitOpen" and x["status"] == "firing" for x in local):
                break
            assert time.monotonic() < deadline, "B never saw the shared circuit open"
            await b.get("/health")  # traffic of its own keeps its evaluator busy
        history = (await b.get("/api/alerts")).json()["history"]
        circuit_events = [e for e in history if e["alertname"] == "CircuitOpen"]
        assert [e["status"] for e in circuit_events] == ["firing"]
        assert len(received["CircuitOpen"]) == 1 and receiver.received.empty()
        checks.append(f"alerts: CircuitOpen seen by A and by a worker of B, notified once "
                      f"(by {circuit_events[0]['instance']}); GroqFailing delivered {failing_latency * 1000:.0f} ms "
                      f"after the failing call, CircuitOpen {circuit_latency * 1000:.0f} ms after the call "
                      "that opened the circuit")

        # 5. One analytics history: every request of both instances in the one PostgreSQL table.
        wanted = {t for t in traces if t}
        await _wait_for_rows(pg_url, wanted)
        checks.append(f"analytics: all {len(wanted)} requests of both instances in one PostgreSQL table")
        await a.aclose()
        await b.aclose()
    finally:
        stuck = _stop(processes)
        for log in logs:
            log.close()
        assert not stuck, f"instances {stuck} did not stop within 30 s of SIGTERM; see {artifacts_dir}/instance-*.log"
        await receiver.stop()
        await _forget(namespace)
    report = "two instances (one with --workers 2), one Redis, one PostgreSQL:\n  " + "\n  ".join(checks)
    print(report)
    (artifacts_dir / "many-instances.txt").write_text(report + "\n")
