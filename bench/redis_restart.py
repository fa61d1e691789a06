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
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

from app.gateway.process import free_port
from app.service.security import RateLimited, RateLimiter


class Redis:
    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "redis-server"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", self.dir],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


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
    redis = Redis()
    redis.start()
    try:
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
    finally:
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", default="20/minute")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.limit, args.burst, args.bursts))
