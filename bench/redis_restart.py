"""Limits across a Redis restart: two instances share a 20/minute limit; bursts before and after.

    .venv/bin/python -m bench.redis_restart      # --limit 20/minute --burst 200 --bursts 5

Starts a throwaway ``redis-server`` on a free port (the shared one is never touched), makes two
service rate limiters on it (two instances: two connection pools), sends one warm-up burst, restarts
Redis (its counters are lost: it runs without persistence), then sends successive bursts of
concurrent requests from both instances and prints how many each burst let through. With a limit
that holds, the first burst after the restart lets ``limit`` through and the next ones none.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from app.service.security import RateLimited, RateLimiter
from bench.servers import ThrowawayRedis


async def burst(limiters: list[RateLimiter], identity: str, size: int) -> tuple[int, int]:
    async def one(i: int) -> str:
        try:
            await limiters[i % len(limiters)].check(identity)
        except RateLimited:
            return "limited"
        except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
            return type(exc).__name__
        return "allowed"

    outcomes = await asyncio.gather(*(one(i) for i in range(size)))
    return outcomes.count("allowed"), sum(1 for o in outcomes if o not in ("allowed", "limited"))


async def main(limit: str, size: int, bursts: int) -> None:
    with ThrowawayRedis() as redis:
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        limiters = [RateLimiter(limit, redis.url, namespace) for _ in range(2)]
        identity = "token:bench"
        before = await burst(limiters, identity, size)
        redis.stop()
        redis.start()
        print(f"| burst | allowed (limit {limit}, {size} concurrent, 2 instances) | errors |")
        print("|---|---|---|")
        print(f"| before the restart | {before[0]} | {before[1]} |")
        for n in range(1, bursts + 1):
            allowed, errors = await burst(limiters, identity, size)
            print(f"| {n} after the restart | {allowed} | {errors} |")
            await asyncio.sleep(0.3)  # bursts a moment apart, as clients retrying would be


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", default="20/minute")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.limit, args.burst, args.bursts))
