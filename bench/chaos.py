"""The chaos table: every simulator fault on a role chain's primary, through `sophia serve`.

    .venv/bin/python -m bench.chaos          # --requests 20 --timeout 2

Starts provider simulators, the pinned gateway and `sophia serve` (a child process, REQUEST_TIMEOUT
from --timeout, MAX_RETRIES=0, no cache), then for each fault (on OpenAI, the primary of
``artemis/code_reviewer``: OpenAI -> Anthropic -> DeepSeek) and each mode (plain, stream) sends
``--requests`` concurrent chat completions and counts what came back:

- answered: 200 with an answer (a stream ending in ``[DONE]``);
- interrupted: a stream that delivered content and then ended with the typed ``stream_interrupted``
  error event (the fault struck after content: our answer is never spliced from two providers);
- lost: anything else without an answer (an error status below 500, a stream without [DONE]);
- hung: no complete answer within the call's stated bound plus 5 s;
- 5xx: HTTP statuses of 500 and above.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid

import httpx2

from app.core.deadlines import Deadlines
from app.gateway import GatewayProcess
from app.gateway.process import free_port, stop_process
from app.sandbox import simulated_env
from app.simulators.process import start_simulators_process
from bench.servers import start_http_server

FAULTS = {
    "500": {"status": 500}, "503": {"status": 503}, "429 + Retry-After": {"status": 429, "retry_after": 1},
    "latency (headers late)": {"latency_ms": 5000}, "refused": {"mode": "refuse"}, "dropped": {"mode": "drop"},
    "malformed JSON": {"mode": "malformed"}, "cut before first chunk": {"mode": "cut_before_first_chunk"},
    "cut after first chunk": {"mode": "cut_after_first_chunk"}, "stall: no headers": {"mode": "stall_headers"},
    "stall: 200, no content": {"mode": "stall_before_content"}, "stall: mid-body": {"mode": "stall_mid_body"},
}


async def one(client: httpx2.AsyncClient, stream: bool, limit: float) -> str:
    body = {"model": "artemis/code_reviewer", "stream": stream,
            "messages": [{"role": "user", "content": f"Review x = {uuid.uuid4().hex}"}]}
    try:
        async with asyncio.timeout(limit):
            if not stream:
                response = await client.post("/v1/chat/completions", json=body)
                if response.status_code >= 500:
                    return "5xx"
                return "answered" if response.status_code == 200 and response.json()["choices"] else "lost"
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 500:
                    return "5xx"
                lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
            if lines and lines[-1] == "data: [DONE]":
                return "answered"
            last = json.loads(lines[-1][6:]) if lines else {}
            if last.get("error", {}).get("code") == "stream_interrupted" and len(lines) > 1:
                return "interrupted"
            return "lost"
    except TimeoutError:
        return "hung"
    except httpx2.HTTPError:
        return "lost"


async def run(url: str, control: object, requests: int, limit: float) -> list[dict]:
    rows = []
    async with httpx2.AsyncClient(base_url=url, timeout=None, trust_env=False,
                                  limits=httpx2.Limits(max_connections=200)) as client:
        for name, fault in FAULTS.items():
            for stream in (False, True):
                await control.aset_fault("openai", **fault)
                started = time.perf_counter()
                outcomes = await asyncio.gather(*(one(client, stream, limit) for _ in range(requests)))
                await control.aclear_faults()
                rows.append({"fault": name, "mode": "stream" if stream else "plain", "requests": requests,
                             **{k: outcomes.count(k) for k in ("answered", "interrupted", "lost", "hung", "5xx")},
                             "seconds": time.perf_counter() - started})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="concurrent requests per cell")
    parser.add_argument("--timeout", type=float, default=2.0, help="REQUEST_TIMEOUT of the service")
    parser.add_argument("--breakers", action="store_true",
                        help="keep circuit breakers on (they soon keep the faulted primary last, so most "
                             "requests never meet the fault)")
    args = parser.parse_args()
    bound = Deadlines.from_timeout(args.timeout).call_bound(3, 0)
    port = free_port()
    with start_simulators_process() as sims, GatewayProcess() as gateway:
        env = {**os.environ, **simulated_env(gateway.url, sims.base_urls), "REQUEST_TIMEOUT": str(args.timeout),
               "MAX_RETRIES": "0", "CACHE_TTL": "0", "MEMORY_ENABLED": "false",
               "SOPHIA_DATA_DIR": f"/tmp/bench-chaos-{uuid.uuid4().hex[:8]}", "SOPHIA_RATE_LIMIT": "100000/minute",
               "CIRCUIT_BREAKER": "true" if args.breakers else "false"}
        url = f"http://127.0.0.1:{port}"
        service = start_http_server([sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)], env=env,
                                    cwd=os.getcwd(), ready_url=url + "/v1/models", timeout=60)
        try:
            rows = asyncio.run(run(url, sims.control, args.requests, bound + 5))
        finally:
            stop_process(service, timeout=30)
    print(f"REQUEST_TIMEOUT={args.timeout:g} s, MAX_RETRIES=0, circuit breakers {'on' if args.breakers else 'off'}: "
          f"a call's bound is {bound:g} s\n")
    print("| fault on the primary | mode | requests | answered | interrupted (typed) | lost | hung | 5xx | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['fault']} | {r['mode']} | {r['requests']} | {r['answered']} | {r['interrupted']} | {r['lost']} "
              f"| {r['hung']} | {r['5xx']} | {r['seconds']:.1f} |")
    totals = {k: sum(r[k] for r in rows) for k in ("requests", "answered", "interrupted", "lost", "hung", "5xx")}
    print(f"| **{len(rows)} cells** | | {totals['requests']} | {totals['answered']} | {totals['interrupted']} "
          f"| {totals['lost']} | {totals['hung']} | {totals['5xx']} | |")


if __name__ == "__main__":
    main()
