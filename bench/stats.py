"""Small helpers shared by the benchmarks: percentiles and table printing.

Only the standard library at import time: ``bench.peer_clients`` also runs these helpers in LiteLLM's
own virtual environment, which has no ``rich``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(latencies_ms: Sequence[float], wall_s: float) -> dict[str, float]:
    return {
        "p50": percentile(latencies_ms, 0.50),
        "p99": percentile(latencies_ms, 0.99),
        "mean": statistics.fmean(latencies_ms) if latencies_ms else float("nan"),
        "rps": len(latencies_ms) / wall_s if wall_s else float("nan"),
        "n": len(latencies_ms),
    }


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column != columns[0] else "left")
    for row in rows:
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    Console(width=160).print(table)


async def timed(call: Callable[[], Awaitable[object]], n: int, concurrency: int) -> dict[str, float]:
    """Run ``call`` ``n`` times, at most ``concurrency`` at once; latency summary in ms and req/s."""
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            t0 = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return summary(latencies, time.perf_counter() - started)
