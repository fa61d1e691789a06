"""Agent-memory search latency at 10,000 and 100,000 memories, and memory add throughput.

    .venv/bin/python -m bench.memory_search [--sizes 10000 100000] [--engines qdrant-local milvus-lite]
                                            [--queries 200] [--adds 60] [--budget 15]

Large sizes are loaded with synthetic unit vectors straight into the store (embedding 100k texts would
take an hour on 2 cores); 1% of them belong to the agent searched, the rest to 99 others. Each search
is what an agent does before a call: the 5 nearest of one agent's memories (filter on agent_id);
searching stops after ``--queries`` or ``--budget`` seconds, whichever comes first.
"search+embed" also embeds the query with the local model first. Adds go through AgentMemory.add
(embed, dedup lookup, upsert) with real text, 8 at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from app.embeddings import LocalEmbedder
from app.memory import AgentMemory, BatchingEmbedder
from app.memory.models import utcnow
from app.vectors import AGENT_MEMORY, Point, VectorStore
from app.vectors.milvus import MilvusStore
from app.vectors.qdrant import QdrantStore
from bench.stats import print_table, summary

AGENTS = 100
BATCH = 1000
MIN_QUERIES = 5
TOPICS = ["deploys", "databases", "reviews", "incidents", "pricing", "customers", "latency", "security"]


def open_store(engine: str, folder: Path) -> VectorStore:
    return QdrantStore(path=folder / "qdrant") if engine == "qdrant-local" else MilvusStore(folder / "milvus.db")


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def load(store: VectorStore, count: int, dim: int, rng: np.random.Generator, offset: int = 0) -> float:
    """Insert ``count`` synthetic memories numbered from ``offset``; returns points per second."""
    now = utcnow()
    started = time.perf_counter()
    for start in range(offset, offset + count, BATCH):
        vectors = unit_vectors(rng, min(BATCH, offset + count - start), dim)
        points = [Point(str(uuid.uuid4()), vector.tolist(), {
            "agent_id": f"agent-{(start + i) % AGENTS}", "domain": "artemis", "role": "code_reviewer",
            "text": f"synthetic memory {start + i}", "source": "bench", "created_at": now.isoformat(),
            "updated_at": now.isoformat(), "ts": now.timestamp(), "times_seen": 1,
        }) for i, vector in enumerate(vectors)]
        await store.upsert(AGENT_MEMORY.name, points)
    return count / (time.perf_counter() - started)


async def search_latencies(store: VectorStore, memory: AgentMemory, args: argparse.Namespace, dim: int,
                           rng: np.random.Generator) -> tuple[dict[str, float], dict[str, float]]:
    """Sequential searches until ``--queries`` or ``--budget`` seconds (at least ``MIN_QUERIES``)."""
    vectors = unit_vectors(rng, args.queries, dim)
    plain: list[float] = []
    started = time.perf_counter()
    for vector in vectors:
        t0 = time.perf_counter()
        await store.search(AGENT_MEMORY.name, vector.tolist(), 5, {"agent_id": "agent-7"})
        plain.append((time.perf_counter() - t0) * 1000)
        if len(plain) >= MIN_QUERIES and t0 - started > args.budget:
            break
    plain_summary = summary(plain, time.perf_counter() - started)
    embedded: list[float] = []
    started = time.perf_counter()
    for i in range(args.queries):
        t0 = time.perf_counter()
        await memory.search("agent-7", f"what do we know about {TOPICS[i % len(TOPICS)]} #{i}?", limit=5)
        embedded.append((time.perf_counter() - t0) * 1000)
        if len(embedded) >= MIN_QUERIES and t0 - started > args.budget / 2:
            break
    return plain_summary, summary(embedded, time.perf_counter() - started)


async def add_throughput(memory: AgentMemory, adds: int) -> dict[str, float]:
    latencies: list[float] = []
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            await memory.add(f"adder-{i % 20}", f"Agent note {i}: the {TOPICS[i % len(TOPICS)]} runbook changed "
                             f"in revision {i * 7919 % 10007}.", domain="artemis", role="code_reviewer")
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(adds)))
    return summary(latencies, time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    embedder = LocalEmbedder()
    await embedder.embed(["warm up"])
    dim = embedder.dimension
    rng = np.random.default_rng(7)
    search_rows, add_rows = [], []
    for engine in args.engines:
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
        store = open_store(engine, folder)
        try:
            memory = AgentMemory(store, BatchingEmbedder(embedder))
            await store.ensure_collection(AGENT_MEMORY.name, dim, AGENT_MEMORY.keyword_fields)
            loaded = 0
            for size in sorted(args.sizes):  # each size tops up the previous one
                rate = await load(store, size - loaded, dim, rng, offset=loaded)
                loaded = size
                plain, embedded = await search_latencies(store, memory, args, dim, rng)
                search_rows.append([engine, f"{size:,}", rate, plain["n"], plain["p50"], plain["p99"],
                                    plain["rps"], embedded["p50"], embedded["p99"]])
                print(f"{engine} {size:,}: done", flush=True)
                if size == min(args.sizes):
                    added = await add_throughput(memory, args.adds)
                    add_rows.append([engine, f"{size:,}", added["n"], added["p50"], added["p99"], added["rps"]])
        finally:
            store.close()
            shutil.rmtree(folder, ignore_errors=True)
    print_table("Memory search (top 5 of one agent's memories, sequential)",
                ["engine", "memories", "bulk insert/s", "searches", "search p50 ms", "search p99 ms", "searches/s",
                 "search+embed p50 ms", "search+embed p99 ms"], search_rows)
    print_table("Memory add (embed + dedup lookup + upsert, 8 concurrent)",
                ["engine", "memories before", "adds", "p50 ms", "p99 ms", "adds/s"], add_rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["qdrant-local", "milvus-lite"],
                        choices=["qdrant-local", "milvus-lite"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--adds", type=int, default=60)
    parser.add_argument("--budget", type=float, default=15.0, help="seconds of searching per cell")
    asyncio.run(main(parser.parse_args()))
