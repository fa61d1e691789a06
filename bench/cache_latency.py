"""Cache latency: exact hits (embedded, Redis) next to an uncached call, and semantic lookups at 10,000 entries.

    .venv/bin/python -m bench.cache_latency [--requests 2000] [--entries 10000] [--threads N]

Rows, each a sequential run through ``PortkeyManager.acreate_completion`` (validation, key hashing,
lookup, result building included), against the sandbox (real gateway, simulated providers):
  uncached          cache=False: the round trip through the gateway to a simulator
  embedded hit      the same request again, served by the in-process cache
  redis hit         the same with REDIS_URL set (a throwaway redis-server, else --redis-url)
  semantic lookup   a new single-turn prompt against one scope holding --entries prompts: the exact miss,
                    the embedding of the prompt (local all-MiniLM-L6-v2) and the nearest-neighbour search
  of which           the local embedding of one short prompt, and the index search alone, for reference
The index is filled with random unit vectors: the search costs the same whatever the vectors hold.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench.servers import ThrowawayRedis
from bench.stats import print_table, summary

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TARGETS = {"embedded hit": 0.5, "redis hit": 2.0, "semantic lookup": 20.0}


async def timed(call: Callable[[int], Awaitable[object]], n: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    return summary(latencies, time.perf_counter() - started)


@contextmanager
def throwaway_redis(url: str | None) -> Iterator[str | None]:
    """The given URL, else a redis-server of our own (never the machine's shared one); None without one."""
    if url or shutil.which("redis-server") is None:
        yield url
        return
    with ThrowawayRedis() as redis:
        yield redis.url


async def semantic_rows(settings: Any, manager_cls: Any, entries: int, requests: int,
                        threads: int) -> list[list[object]]:
    from app.cache import MemoryBackend, ResponseCache, SemanticPolicy
    from app.cache.response_cache import semantic_question
    from app.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder(threads=threads)
    manager = manager_cls(settings)
    manager.cache = ResponseCache(MemoryBackend(), ttl=3600, policy=SemanticPolicy(everywhere=True),
                                  max_entries=2 * entries, embedder=embedder)
    await embedder.embed(["warm up the model"])
    chain = manager.chain("openai", "gpt-4o", [])
    probe = [{"role": "user", "content": "What is the largest planet?"}]
    targets = [(t.provider.name, t.model) for t in chain.targets]
    scope = semantic_question("core", "-", targets, probe, {}, embedder.name).scope
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((entries, embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i, vector in enumerate(vectors):
        manager.cache.index.add(scope, vector, f"core:-:{i:064x}", ttl=3600)

    async def lookup(i: int) -> None:
        messages = [{"role": "user", "content": fresh_prompt()}]
        plan = manager.cache.completion_plan(chain, messages, {}, None)
        assert plan is not None and plan.question is not None and plan.question.scope == scope
        await plan.lookup("bench")

    async def embed_only(i: int) -> None:
        await embedder.embed([fresh_prompt()])

    query = vectors[0]

    async def search_only(i: int) -> None:
        manager.cache.index.search(scope, query)

    await timed(lookup, 10)
    semantic = await timed(lookup, requests)
    alone = await timed(embed_only, requests)
    search = await timed(search_only, requests)
    return [["semantic lookup", f"{entries:,}", *_cells(semantic), TARGETS["semantic lookup"]],
            ["  of which: embedding alone", "", *_cells(alone), ""],
            ["  of which: index search alone", f"{entries:,}", *_cells(search), ""]]


def fresh_prompt() -> str:
    """A new text in the probe's scope every time: no names, digits or code (so no literals)."""
    word = uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    return f"what is the largest planet, asked by {word}"


def _cells(result: dict[str, float]) -> list[object]:
    return [result["p50"], result["p99"], result["rps"], int(result["n"])]


async def main(requests: int, entries: int, semantic_requests: int, redis_url: str | None, threads: int) -> None:
    from app.core.manager import PortkeyManager
    from app.core.settings import load_settings
    from app.runtime import build_manager
    from app.sandbox import Sandbox

    rows: list[list[object]] = []
    with Sandbox() as box, throwaway_redis(redis_url) as redis:
        settings = load_settings(_env_file=None, max_retries=0, **{k.lower(): v for k, v in box.env.items()})
        # build_manager wires the cache the settings name, as get_portkey_manager() does; a bare
        # PortkeyManager(settings) has no cache at all.
        embedded = build_manager(settings)

        async def call(manager: PortkeyManager, **kwargs: Any) -> Callable[[int], Awaitable[object]]:
            async def one(i: int) -> object:
                return await manager.acreate_completion(provider="openai", model="gpt-4o", messages=MESSAGES,
                                                        fallbacks=[], **kwargs)
            await one(0)  # warm the pool and store the answer
            return one

        uncached = await timed(await call(embedded, cache=False), min(requests, 300))
        rows.append(["uncached (gateway -> simulator)", "", *_cells(uncached), ""])
        rows.append(["embedded hit", "", *_cells(await timed(await call(embedded), requests)),
                     TARGETS["embedded hit"]])
        if redis:
            shared = build_manager(settings.model_copy(update={"redis_url": redis}))
            rows.append(["redis hit", "", *_cells(await timed(await call(shared), requests)), TARGETS["redis hit"]])
            await shared.aclose()
        rows.extend(await semantic_rows(settings, PortkeyManager, entries, semantic_requests, threads))
        await embedded.aclose()
    print_table("Cache latency, sequential (ms, req/s)",
                ["path", "entries", "p50 ms", "p99 ms", "req/s", "n", "target p50 ms"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="exact-hit requests per path")
    parser.add_argument("--entries", type=int, default=10_000, help="prompts in the semantic scope")
    parser.add_argument("--semantic-requests", type=int, default=200)
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a throwaway server")
    parser.add_argument("--threads", type=int, default=1,
                        help="onnxruntime intra-op threads of the local embedder (default 1, as in the app)")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.entries, args.semantic_requests, args.redis_url, args.threads))
