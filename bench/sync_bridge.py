"""The sync API's bridge to the async core: ours next to anyio's BlockingPortal, same work, alternating.

    .venv/bin/python -m bench.sync_bridge [--calls 5000] [--rounds 3]

Each call runs one coroutine (a bare ``await asyncio.sleep(0)``) on a background event-loop thread
from the calling thread, which is what ``manager.create_completion`` adds to its async twin.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from anyio.from_thread import start_blocking_portal

from app.core.sync_bridge import SyncBridge
from bench.stats import print_table, summary


async def _work() -> None:
    await asyncio.sleep(0)


def _measure(run: Callable[[Coroutine[Any, Any, None]], None], calls: int) -> dict[str, float]:
    for _ in range(200):  # warm the loop thread and caches
        run(_work())
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        run(_work())
        latencies.append((time.perf_counter() - t0) * 1000)
    return summary(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours = SyncBridge()
    results: dict[str, list[dict[str, float]]] = {"ours (SyncBridge)": [], "anyio BlockingPortal": []}
    with start_blocking_portal() as portal:
        def through_portal(coro: Coroutine[Any, Any, None]) -> None:
            portal.call(lambda: coro)

        for _ in range(args.rounds):
            results["ours (SyncBridge)"].append(_measure(ours.run, args.calls))
            results["anyio BlockingPortal"].append(_measure(through_portal, args.calls))
    rows = []
    for name, runs in results.items():
        best = sorted(runs, key=lambda r: r["p50"])[len(runs) // 2]  # the median round by p50
        rows.append([name, best["p50"] * 1000, best["p99"] * 1000, best["rps"]])
    print_table(f"Sync bridge, one trivial coroutine per call ({args.calls} calls, median of {args.rounds} rounds)",
                ["bridge", "p50 µs", "p99 µs", "calls/s"], rows)


if __name__ == "__main__":
    main()
