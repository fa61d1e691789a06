"""Memory soak: RSS of `sophia serve` and of the gateway over a long run of requests.

    .venv/bin/python -m bench.soak      # --requests 100000 --checkpoint 10000 --concurrency 16 --max-minutes 30

The same zero-latency stub as bench.peers (the OpenAI simulator) behind the gateway behind the service;
a lean HTTP client sends unique prompts (no cache hits: CACHE_TTL=0), one request in ten a stream read to
its end, and the service writes its analytics to SQLite as it does by default. The RSS of both servers
(``/proc/<pid>/status``, so Linux only) is taken after the warm-up and at every checkpoint; the gateway
also reports ``process.memoryUsage()`` every second (``gateway/memory-report.cjs``, loaded for this run
only), so growth can be told apart: the JavaScript heap, buffers outside it, or pages the allocator keeps.
The verdict compares the last checkpoint with the first: issue 13 asks for at most 5% growth from
10,000 to 100,000 requests. ``--max-minutes`` bounds the run; it then stops at the last checkpoint reached.
Raw figures go to ``bench/results/soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from app.core.http11 import Http11Pool
from app.gateway.process import PRELOADS, GatewayProcess, free_port, stop_process
from app.simulators.process import start_simulators_process
from bench.peer_clients import MODEL, STUB_KEY
from bench.service_overhead import start_service
from bench.stats import print_table

REPO = Path(__file__).resolve().parents[1]
MB = 1 << 20


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def last_gateway_memory(log: Path) -> dict[str, int]:
    """The gateway's latest ``process.memoryUsage()`` line (``gateway/memory-report.cjs``)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("sophia-memory ")]
    return json.loads(lines[-1].split(" ", 1)[1]) if lines else {}


@dataclass
class Checkpoint:
    requests: int
    seconds: float
    service_rss: int
    gateway_rss: int
    gateway_heap_used: int
    gateway_external: int


@dataclass
class Load:
    client: httpx2.AsyncClient
    token: str
    stream_every: int
    done: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    async def one(self, number: int) -> None:
        body = {"model": f"openai/{MODEL}", "fallbacks": [],
                "messages": [{"role": "user", "content": f"Hello {uuid.uuid4().hex}"}]}
        headers = {"authorization": f"Bearer {self.token}"}
        try:
            if self.stream_every and number % self.stream_every == 0:
                async with self.client.stream("POST", "/v1/chat/completions", json={**body, "stream": True},
                                              headers=headers) as response:
                    text = "".join([line async for line in response.aiter_lines()])
                    ok = response.status_code == 200 and "[DONE]" in text
            else:
                response = await self.client.post("/v1/chat/completions", json=body, headers=headers)
                ok = response.status_code == 200
        except httpx2.HTTPError as exc:
            ok = False
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
        self.done += 1
        self.failed += not ok


async def drive(load: Load, total: int, concurrency: int, deadline: float, on_count: dict[int, asyncio.Event]) -> None:
    """Send ``total`` requests, ``concurrency`` at a time, until done or past ``deadline``."""
    numbers = iter(range(total))

    async def worker() -> None:
        for number in numbers:
            if time.monotonic() > deadline:
                return
            await load.one(number)
            event = on_count.get(load.done)
            if event is not None:
                event.set()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def soak(args: argparse.Namespace, service_pid: int, gateway_pid: int, gateway_log: Path,
               service_url: str, token: str) -> list[Checkpoint]:
    marks = list(range(args.checkpoint, args.requests + 1, args.checkpoint))
    started = time.monotonic()
    async with httpx2.AsyncClient(base_url=service_url, transport=Http11Pool(), timeout=60) as client:
        warm = Load(client, token, args.stream_every)
        await drive(warm, args.warmup, args.concurrency, float("inf"), {})
        load = Load(client, token, args.stream_every)
        events = {mark: asyncio.Event() for mark in marks}
        checkpoints: list[Checkpoint] = []

        def take(count: int) -> None:
            gateway = last_gateway_memory(gateway_log)
            checkpoints.append(Checkpoint(count, time.monotonic() - started, rss_bytes(service_pid),
                                          rss_bytes(gateway_pid), gateway.get("heapUsed", 0),
                                          gateway.get("external", 0)))

        take(0)
        driver = asyncio.create_task(drive(load, args.requests, args.concurrency,
                                           started + args.max_minutes * 60, events))
        for mark in marks:
            waiter = asyncio.create_task(events[mark].wait())
            await asyncio.wait({waiter, driver}, return_when=asyncio.FIRST_COMPLETED)
            if not events[mark].is_set():
                waiter.cancel()
                break
            take(mark)
            print(f"{mark} requests, {time.monotonic() - started:.0f} s", flush=True)
        await driver
    if load.failed:
        print(f"{load.failed} of {load.done} requests failed: {load.errors}")
    return checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--checkpoint", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--stream-every", type=int, default=10, help="every Nth request is a stream (0: none)")
    parser.add_argument("--max-minutes", type=float, default=30.0)
    args = parser.parse_args()
    token = "sk-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="sophia-soak-") as tmp:
        workdir = Path(tmp)
        gateway_log = workdir / "gateway.log"
        os.environ["SOPHIA_GATEWAY_MEMORY_REPORT_MS"] = "1000"
        with start_simulators_process() as stub, \
                GatewayProcess(log_path=gateway_log, preloads=(*PRELOADS, "memory-report.cjs")) as gateway:
            env = {**os.environ, "PYTHONPATH": str(REPO), "PORTKEY_BASE_URL": gateway.url,
                   "OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": stub.base_urls["openai"], "MAX_RETRIES": "0",
                   "CACHE_TTL": "0", "MEMORY_ENABLED": "false", "SOPHIA_RATE_LIMIT": "1000000/minute",
                   "SOPHIA_API_KEYS": token}
            port = free_port()
            service = start_service(env, port, str(workdir))
            try:
                assert gateway.pid is not None
                checkpoints = asyncio.run(soak(args, service.pid, gateway.pid, gateway_log,
                                               f"http://127.0.0.1:{port}", token))
            finally:
                stop_process(service)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "soak.json").write_text(json.dumps([c.__dict__ for c in checkpoints], indent=1))
    rows = [[c.requests, f"{c.seconds:.0f}", f"{c.service_rss / MB:.1f}", f"{c.gateway_rss / MB:.1f}",
             f"{c.gateway_heap_used / MB:.1f}", f"{c.gateway_external / MB:.1f}"] for c in checkpoints]
    print_table("Memory over the run (MB)", ["requests", "s", "service RSS", "gateway RSS", "gateway heap used",
                                             "gateway external"], rows)
    measured = [c for c in checkpoints if c.requests >= args.checkpoint]
    if len(measured) >= 2:
        first, last = measured[0], measured[-1]
        for name, before, after in (("service", first.service_rss, last.service_rss),
                                    ("gateway", first.gateway_rss, last.gateway_rss)):
            growth = 100 * (after - before) / before
            verdict = "within 5%" if growth <= 5 else "MORE than 5%"
            print(f"{name} RSS {before / MB:.1f} MB after {first.requests:,} requests -> {after / MB:.1f} MB after "
                  f"{last.requests:,}: {growth:+.1f}% ({verdict})")


if __name__ == "__main__":
    main()
