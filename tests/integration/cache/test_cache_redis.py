"""The Redis backend against a real Redis server of the tests' own (stopped and restarted here)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.cache.redis_backend import RedisBackend

ROOT = Path(__file__).resolve().parents[3]


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{text} [{uuid.uuid4().hex[:8]}]"}]


async def complete(manager, messages, **kwargs):
    return await manager.acreate_completion(provider="openai", model="gpt-4o", messages=messages,
                                            fallbacks=[], **kwargs)


async def test_an_answer_stored_by_one_instance_serves_another(make_manager, redis_server, calls):
    first, second = make_manager(redis_url=redis_server.url), make_manager(redis_url=redis_server.url)
    assert isinstance(first.cache.backend, RedisBackend)
    messages = ask("Hello")
    answer = await complete(first, messages)
    shared = await complete(second, messages)
    assert shared.routing.cached == "hit" and shared.content == answer.content
    assert calls("openai") == 1


async def test_ttl_is_honoured_in_redis(make_manager, redis_server, calls):
    manager = make_manager(redis_url=redis_server.url, cache_ttl=1)
    messages = ask("Hello")
    await complete(manager, messages)
    key = manager.cache.completion_plan(manager.chain("openai", "gpt-4o", []), messages, {}, None).key
    client = Redis.from_url(redis_server.url)
    try:
        assert 0 < await client.pttl(key) <= 1000
    finally:
        await client.aclose()
    deadline = time.monotonic() + 5
    while (await complete(manager, messages)).routing.cached == "hit":  # hits until the entry expires
        assert time.monotonic() < deadline, "the entry outlived its TTL"
        await asyncio.sleep(0.05)
    assert calls("openai") == 2


def test_same_task_in_two_processes_hits_once(sandbox_env, redis_server, calls, tmp_path):
    script = (
        "import asyncio, json, sys\n"
        "from app.artemis.portkey_unified_factory import get_portkey_artemis_factory\n"
        "async def main():\n"
        "    factory = get_portkey_artemis_factory()\n"
        "    agent = await factory.create_agent_with_portkey('twin', 'code_reviewer', 'python')\n"
        "    result = await factory.execute_with_portkey(agent, sys.argv[1], 100)\n"
        "    print(json.dumps({'cached': result.cached, 'content': result.content}))\n"
        "asyncio.run(main())\n"
    )
    prompt = f"Review this: def f(x): return x * {uuid.uuid4().int % 1000}"
    env = {**os.environ, **sandbox_env, "REDIS_URL": redis_server.url, "MAX_RETRIES": "0",
           "MEMORY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    results = []
    for seed in ("1", "2"):  # different hash seeds: the key must not depend on Python's hash()
        done = subprocess.run([sys.executable, "-c", script, prompt], env={**env, "PYTHONHASHSEED": seed}, check=False,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [r["cached"] for r in results] == [None, "hit"]
    assert results[0]["content"] == results[1]["content"]
    assert calls() == 1


def _errors() -> float:
    return sum(REGISTRY.get_sample_value("sophia_cache_backend_errors_total",
                                         {"backend": "redis", "operation": op}) or 0.0 for op in ("get", "set"))


async def test_redis_stopped_mid_run_loses_no_request(make_manager, redis_server, calls, caplog):
    now = [0.0]
    manager = make_manager(redis_url=redis_server.url)
    manager.cache.backend = RedisBackend(redis_server.url, retry_interval=1.0, clock=lambda: now[0])
    cached = ask("cached")
    assert (await complete(manager, cached)).routing.cached is None
    assert (await complete(manager, cached)).routing.cached == "hit"
    errors = _errors()
    caplog.set_level(logging.INFO, logger="app.cache")
    redis_server.stop()
    try:
        answers = [await complete(manager, cached)]
        for i in range(4):
            now[0] += 1.5  # past the retry interval: Redis is tried again, and fails again
            answers.append(await complete(manager, ask(f"during {i}")))
        stream = await complete(manager, ask("during stream"), stream=True)
        assert [c async for c in stream] and stream.routing.cached is None
        assert all(a.content and a.routing.cached is None for a in answers)
        assert calls("openai") == 1 + 6  # every request of the outage was served, by the provider
        warnings = [r for r in caplog.records if r.name == "app.cache" and r.levelno == logging.WARNING]
        assert len(warnings) == 1, [w.getMessage() for w in warnings]
        assert f"127.0.0.1:{redis_server.port}" in warnings[0].getMessage()
        assert _errors() >= errors + 5
    finally:
        redis_server.start()
    after = ask("after")
    now[0] += 1.5
    assert (await complete(manager, after)).routing.cached is None
    assert (await complete(manager, after)).routing.cached == "hit"  # caching resumed with Redis
    assert any("is back" in r.getMessage() for r in caplog.records if r.name == "app.cache")
