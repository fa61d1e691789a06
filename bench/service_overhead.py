"""What the HTTP service adds on top of the manager, on the same simulator through the same gateway.

    .venv/bin/python -m bench.service_overhead [--requests 300] [--concurrency 32] [--rounds 3]

Paths, all ending at the OpenAI simulator through the local gateway:
  manager       PortkeyManager.acreate_completion in this process
  service       AsyncOpenAI -> `sophia serve` (own process: uvicorn, auth off, rate limit, analytics to
                SQLite, telemetry) -> gateway
  service+auth  the same with SOPHIA_API_KEYS set (bearer check on every request)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable

from app.gateway.process import stop_process
from bench.servers import start_http_server
from bench.stats import print_table, timed


def start_service(env: dict[str, str], port: int, workdir: str) -> subprocess.Popen[bytes]:
    return start_http_server([sys.executable, "-m", "app.cli.main", "serve", "--port", str(port), "--log-level",
                              "warning"], env=env, cwd=workdir, ready_url=f"http://127.0.0.1:{port}/")


async def main(requests: int, concurrency: int, rounds: int) -> None:
    from openai import AsyncOpenAI

    from app.core.manager import PortkeyManager
    from app.core.settings import load_settings
    from app.gateway.process import free_port
    from app.sandbox import Sandbox

    def prompt() -> list[dict[str, str]]:
        return [{"role": "user", "content": f"Hello {uuid.uuid4().hex}"}]  # unique: no cache hits

    with Sandbox() as box, tempfile.TemporaryDirectory() as workdir:
        env = {**os.environ, **box.env, "MAX_RETRIES": "0", "MEMORY_ENABLED": "false", "CACHE_TTL": "0",
               "SOPHIA_RATE_LIMIT": "1000000/minute"}
        manager = PortkeyManager(load_settings(_env_file=None, max_retries=0, cache_ttl=0, memory_enabled=False,
                                               **{k.lower(): v for k, v in box.env.items()}))
        open_port, auth_port = free_port(), free_port()
        procs = [start_service(env, open_port, workdir),
                 start_service({**env, "SOPHIA_API_KEYS": "bench-token"}, auth_port, workdir)]
        try:
            plain = AsyncOpenAI(base_url=f"http://127.0.0.1:{open_port}/v1", api_key="x", max_retries=0)
            authed = AsyncOpenAI(base_url=f"http://127.0.0.1:{auth_port}/v1", api_key="bench-token", max_retries=0)
            paths: dict[str, Callable[[], Awaitable[object]]] = {
                "manager (in process)": lambda: manager.acreate_completion(
                    provider="openai", messages=prompt(), fallbacks=[], cache=False),
                "service (AsyncOpenAI -> sophia serve)": lambda: plain.chat.completions.create(
                    model="openai/gpt-4o", messages=prompt(), extra_body={"fallbacks": []}),
                "service + bearer auth": lambda: authed.chat.completions.create(
                    model="openai/gpt-4o", messages=prompt(), extra_body={"fallbacks": []}),
            }
            for call in paths.values():
                await timed(call, 50, 8)
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            for _ in range(rounds):
                for level in (1, concurrency):
                    for name, call in paths.items():
                        results.setdefault((name, level), []).append(await timed(call, requests, level))
        finally:
            for proc in procs:
                stop_process(proc)

    def med(name: str, level: int, key: str) -> float:
        return statistics.median(r[key] for r in results[(name, level)])

    base = "manager (in process)"
    rows = [[name, level, med(name, level, "p50"), med(name, level, "p99"), med(name, level, "rps"),
             "" if name == base else f"{med(name, level, 'p50') - med(base, level, 'p50'):+.2f}"]
            for level in (1, concurrency) for name in paths]
    print_table(f"Service overhead: {requests} requests per run, median of {rounds} runs (ms, req/s)",
                ["path", "concurrency", "p50 ms", "p99 ms", "req/s", "added p50 vs manager"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.rounds))
