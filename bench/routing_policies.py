"""Routing policies on the real gateway: loadbalance weights, sticky assignment, and what planning costs.

    python -m bench.routing_policies          # --calls 10000 --keys 100000 --concurrency 32

1. The gateway's loadbalance (weights 0.8/0.2) over ``--calls`` calls: the share each variant got.
2. Sticky assignment over ``--keys`` keys (hash only), then 1,000 sticky calls through the gateway,
   each checked against the variant its hash predicts.
3. Planning a request in process (no network): a plain chain, a role, a loadbalance route, and a
   complexity route (the classifier included), in microseconds per request.
4. Latency through the gateway, sequential: the same target as a plain provider call and as a route.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.stats import print_table, timed

POLICY = """\
routes:
  weights:
    strategy: loadbalance
    targets:
      - {target: openai/gpt-4o-mini, weight: 0.8}
      - {target: groq/llama-3.1-8b-instant, weight: 0.2}
  sticky:
    strategy: loadbalance
    sticky: metadata.user_id
    targets:
      - {target: openai/gpt-4o-mini, weight: 0.8}
      - {target: groq/llama-3.1-8b-instant, weight: 0.2}
  smart:
    strategy: complexity
    simple: {target: groq/llama-3.1-8b-instant}
    complex: {strategy: fallback, targets: [{target: openai/gpt-4o}, {target: anthropic/claude-sonnet-4-5}]}
  one:
    target: openai/gpt-4o-mini
"""
HELLO = [{"role": "user", "content": "Hello"}]


async def main(calls: int, keys: int, concurrency: int) -> None:
    from app.core.settings import load_settings
    from app.routing.sticky import sticky_choice
    from app.runtime import build_manager
    from app.sandbox import Sandbox

    with Sandbox() as box, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "routing.yaml"
        path.write_text(POLICY)
        manager = build_manager(load_settings(_env_file=None, max_retries=0, cache_ttl=0, sophia_routing_file=str(path),
                                              **{k.lower(): v for k, v in box.env.items()}))
        gate = asyncio.Semaphore(concurrency)

        async def call(**kw: object) -> object:
            async with gate:
                return await manager.acreate_completion(messages=HELLO, **kw)

        started = time.perf_counter()
        answers = await asyncio.gather(*(call(route="weights") for _ in range(calls)))
        wall = time.perf_counter() - started
        share = Counter(a.routing.variant for a in answers)["openai/gpt-4o-mini"] / calls
        sigma = math.sqrt(0.8 * 0.2 / calls)
        hashed = Counter(sticky_choice("sticky", f"user-{i}", (0.8, 0.2)) for i in range(keys))[0] / keys
        sticky = await asyncio.gather(*(call(route="sticky", metadata={"user_id": f"user-{i}"}) for i in range(1000)))
        names = ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant")
        agree = sum(a.routing.variant == names[sticky_choice("sticky", f"user-{i}", (0.8, 0.2))]
                    for i, a in enumerate(sticky))
        print_table("Loadbalance weights (target 0.8 / 0.2)", ["what", "calls or keys", "share of 0.8 variant",
                                                                "deviation", "note"], [
            ["gateway loadbalance", calls, f"{share:.4f}", f"{(share - 0.8) / sigma:+.2f} sigma",
             f"{calls / wall:.0f} calls/s at {concurrency} concurrent"],
            ["sticky hash (sha256)", keys, f"{hashed:.4f}", f"{(hashed - 0.8) / math.sqrt(0.16 / keys):+.2f} sigma", ""],
            ["sticky through the gateway", 1000, "", "", f"{agree}/1000 served the predicted variant"],
        ])

        def planning(**kw: object) -> float:
            args = {"provider": None, "model": None, "fallbacks": None, "route": None, "role": None, **kw}
            runs = 2000
            start = time.perf_counter()
            for _ in range(runs):
                manager._chain_for(args["provider"], args["model"], args["fallbacks"], args["route"], args["role"],
                                   [{"role": "user", "content": "Design a scalable rate limiter and compare options"}],
                                   {"user_id": "u1"}, {})
            return 1e6 * (time.perf_counter() - start) / runs

        print_table("Planning a request in process (µs per request, no network)", ["call", "µs"], [
            ["provider=openai, fallbacks=anthropic", planning(provider="openai", fallbacks=["anthropic"])],
            ["role=artemis/code_reviewer (fallback of 3)", planning(role="artemis/code_reviewer")],
            ["route=weights (loadbalance)", planning(route="weights")],
            ["route=sticky (hash)", planning(route="sticky")],
            ["route=smart (classifier + fallback)", planning(route="smart")],
        ])
        paths = {
            "plain": lambda: manager.acreate_completion(provider="openai", model="gpt-4o-mini", fallbacks=[],
                                                        messages=HELLO),
            "one": lambda: manager.acreate_completion(route="one", messages=HELLO),
            "weights": lambda: manager.acreate_completion(route="weights", messages=HELLO),
        }
        for path in paths.values():  # warm the pools first: the first path measured would pay for it
            await timed(path, 50, 1)
        plain, routed, weights = [await timed(path, 300, 1) for path in paths.values()]
        print_table("Through the gateway, sequential (ms)", ["call", "p50", "p99"], [
            ["provider=openai/gpt-4o-mini", plain["p50"], plain["p99"]],
            ["route=one (the same target)", routed["p50"], routed["p99"]],
            ["route=weights (gateway loadbalance)", weights["p50"], weights["p99"]],
        ])
        await manager.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.keys, args.concurrency))
