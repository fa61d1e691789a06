"""Added latency and throughput of the manager, next to the raw openai SDK, on the same simulator.

    .venv/bin/python -m bench.routing_overhead [--requests 400] [--concurrency 32]

Paths, all to the same OpenAI simulator on loopback:
  direct       AsyncOpenAI straight to the simulator (no gateway)
  sdk+gateway  AsyncOpenAI through the gateway with an x-portkey-config header
  manager      PortkeyManager.acreate_completion through the gateway (same config)
Each path runs sequentially and at N concurrent requests; runs alternate so drift hits all alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from bench.stats import print_table, timed

MESSAGES = [{"role": "user", "content": "Hello"}]



def import_time(module: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - t0)
    base = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
    return statistics.median(times) - statistics.median(base)


async def main(requests: int, concurrency: int, rounds: int) -> None:
    from openai import AsyncOpenAI

    from app.core.manager import PortkeyManager
    from app.core.settings import load_settings
    from app.sandbox import Sandbox

    with Sandbox() as box:
        env = box.env
        # The response cache is off (CACHE_TTL=0): every call must reach the gateway like the SDK's do.
        manager = PortkeyManager(load_settings(_env_file=None, max_retries=0, cache_ttl=0,
                                               **{k.lower(): v for k, v in env.items()}))
        chain = manager.chain("openai", "gpt-4o", [])
        config = manager.router.portkey_config(chain)
        # max_retries=2 only covers the SDK's stale keep-alive race (it pools for longer than servers keep).
        direct = AsyncOpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=2)
        via_gateway = AsyncOpenAI(base_url=box.gateway_url, api_key="unused", max_retries=2,
                                  default_headers={"x-portkey-config": config})
        paths: dict[str, Callable[[], Awaitable[object]]] = {
            "direct (AsyncOpenAI -> simulator)": lambda: direct.chat.completions.create(
                model="gpt-4o", messages=MESSAGES),
            "sdk+gateway (AsyncOpenAI -> gateway)": lambda: via_gateway.chat.completions.create(
                model="gpt-4o", messages=MESSAGES),
            "manager (PortkeyManager -> gateway)": lambda: manager.acreate_completion(
                provider="openai", model="gpt-4o", messages=MESSAGES, fallbacks=[]),
        }
        for call in paths.values():  # warm up pools and JITs
            await timed(call, 50, 8)
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        for _ in range(rounds):
            for level in (1, concurrency):
                for name, call in paths.items():
                    results.setdefault((name, level), []).append(await timed(call, requests, level))

    def med(name: str, level: int, key: str) -> float:
        return statistics.median(r[key] for r in results[(name, level)])

    rows = []
    sdk_name = "sdk+gateway (AsyncOpenAI -> gateway)"
    for level in (1, concurrency):
        for name in paths:
            added = med(name, level, "p50") - med(sdk_name, level, "p50") if name.startswith("manager") else None
            rows.append([name, level, med(name, level, "p50"), med(name, level, "p99"), med(name, level, "rps"),
                         f"{added:+.2f}" if added is not None else ""])
    print_table(
        f"Routing overhead: {requests} requests per run, median of {rounds} runs (ms, req/s)",
        ["path", "concurrency", "p50 ms", "p99 ms", "req/s", "manager - sdk p50"], rows,
    )
    print_table("Import cost (s, median of 5, minus bare interpreter start)", ["module", "seconds"],
                [[m, import_time(m)] for m in ("app.core.portkey_config", "app.core.manager", "openai")])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.rounds))
