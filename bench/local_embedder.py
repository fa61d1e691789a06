"""The local embedder alone: cold start, one short query, a batch, and the semantic cache's measured pairs.

    .venv/bin/python -m bench.local_embedder [--queries 500] [--starts 5] [--threads N]

Rows:
  import + first embedding   a fresh interpreter imports ``app.embeddings.local`` and embeds one text
                             (median of --starts processes; interpreter start-up not included)
  one short query            ``embed_sync`` of one short prompt, warm (the model's own cost)
  one short query, async     ``await embed(...)``: the same through the worker thread (what the cache pays)
  batch of 64                64 texts of about 12 words in one call, per text
Then the cosine of each pair in the README's semantic-cache table (texts normalised as the cache does).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

import numpy as np

from app.cache.literals import normalise
from bench.stats import print_table, summary
from tests.integration.cache.test_cache_semantic import NEAR_MISSES, PARAPHRASES

QUERY = "what is the largest planet"

# The README's "Why these rules" pairs: the semantic-cache tests' pairs, and two misses only the README lists.
PAIRS = [*PARAPHRASES, *NEAR_MISSES,
         ("What is the capital of France?", "Tell me the capital of France."),
         ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?")]

COLD_START = """
import time
started = time.perf_counter()
from app.embeddings.local import LocalEmbedder
LocalEmbedder(threads={threads}).embed_sync(["hello world"])
print(time.perf_counter() - started)
"""


def cold_start_seconds(starts: int, threads: int) -> list[float]:
    code = COLD_START.format(threads=threads)
    return [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
                  .stdout.split()[-1]) for _ in range(starts)]


def timed_sync(call, n: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - t0) * 1000)
    return summary(latencies, time.perf_counter() - started)


async def timed_async(call, n: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - t0) * 1000)
    return summary(latencies, time.perf_counter() - started)


def main(queries: int, starts: int, threads: int) -> None:
    from app.embeddings.local import LocalEmbedder

    cold = cold_start_seconds(starts, threads)
    embedder = LocalEmbedder(threads=threads)
    embedder.embed_sync(["warm up"])
    one = timed_sync(lambda: embedder.embed_sync([QUERY]), queries)
    one_async = asyncio.run(timed_async(lambda: embedder.embed([QUERY]), queries))
    batch_texts = [f"sentence number {i} about routing model calls through one gateway" for i in range(64)]
    batch = timed_sync(lambda: embedder.embed_sync(batch_texts), max(queries // 20, 5))
    print_table("Local embedder (ms)", ["path", "p50 ms", "p99 ms", "n"], [
        ["import + first embedding (fresh process)", statistics.median(cold) * 1000, max(cold) * 1000, starts],
        ["one short query", one["p50"], one["p99"], int(one["n"])],
        ["one short query, async (worker thread)", one_async["p50"], one_async["p99"], int(one_async["n"])],
        ["batch of 64, per text", batch["p50"] / 64, batch["p99"] / 64, int(batch["n"])],
    ])
    rows = []
    for cached, asked in PAIRS:
        a, b = np.asarray(embedder.embed_sync([normalise(cached), normalise(asked)]))
        rows.append([f"{cached[:60]!r} / {asked[:60]!r}", f"{float(a @ b):.4f}"])
    print_table("Semantic-cache pairs: cosine after normalisation", ["pair", "cosine"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=500, help="short queries per row")
    parser.add_argument("--starts", type=int, default=5, help="fresh processes for the cold-start row")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (as in the app)")
    args = parser.parse_args()
    main(args.queries, args.starts, args.threads)
