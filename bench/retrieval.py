"""Retrieval quality and speed of the document store, on the shipped corpus.

    .venv/bin/python -m bench.retrieval                 # --chunks 10000 --searches 300
    .venv/bin/python -m bench.retrieval --chunks 0      # recall only (about a minute)

1. Ingests ``bench/corpus`` (36 documents: Markdown, HTML, text, PDF) into a fresh embedded Qdrant
   with the local embedder, and reports recall@1 and recall@5 for vector-only, keyword-only and
   hybrid search over ``bench/retrieval_questions.tsv`` (124 questions written by hand, each with
   the one document that answers it). A question counts as found at k when a chunk of its document
   is among the first k chunks returned.
2. Tops the store up with synthetic documents (sentences recombined from the corpus's own words) to
   ``--chunks`` chunks, reporting ingest throughput, then the same recall among the distractors and
   search latency p50/p99 per mode (query embedding included, and alone).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).with_name("corpus")
QUESTIONS = Path(__file__).with_name("retrieval_questions.tsv")
MODES = ("vector", "keyword", "hybrid")


def load_questions(path: Path = QUESTIONS) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            question, source = line.split("\t")
            pairs.append((question.strip(), source.strip()))
    return pairs


async def ingest_corpus(store: Any, folder: Path = CORPUS) -> int:
    """Add every corpus file under its file name; returns the number of chunks written."""
    chunks = 0
    for file in sorted(folder.iterdir()):
        chunks += (await store.add_file(file, source=file.name)).chunks
    return chunks


async def recall(store: Any, questions: Sequence[tuple[str, str]], mode: str, ks: Sequence[int] = (1, 5),
                 ) -> dict[int, float]:
    found = dict.fromkeys(ks, 0)
    for question, source in questions:
        hits = await store.search(question, limit=max(ks), mode=mode)
        for k in ks:
            found[k] += any(h.source == source for h in hits[:k])
    return {k: found[k] / len(questions) for k in ks}


def synthetic_texts(chunks: int, seed: int = 7, per_source: int = 20) -> list[str]:
    """Documents of ``per_source`` paragraphs (one chunk each) of sentences made of corpus words."""
    words = sorted({w for f in CORPUS.glob("*.md") for w in re.findall(r"[a-z]{3,}", f.read_text().lower())})
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 16))).capitalize() + "."

    def paragraph() -> str:
        text = ""
        while len(text) < 700:
            text += sentence() + " "
        return text.strip()

    documents = []
    for start in range(0, chunks, per_source):
        count = min(per_source, chunks - start)
        documents.append("\n\n".join(paragraph() for _ in range(count)))
    return documents


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency(store: Any, queries: Sequence[str], mode: str, searches: int) -> tuple[float, float]:
    times = []
    for i in range(searches):
        started = time.perf_counter()
        await store.search(queries[i % len(queries)], limit=5, mode=mode)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), _percentile(times, 0.99)


def _recall_table(title: str, results: dict[str, dict[int, float]]) -> None:
    print(f"\n{title}\n")
    print("| search | recall@1 | recall@5 |")
    print("|---|---|---|")
    for mode in MODES:
        print(f"| {mode} | {results[mode][1]:.3f} | {results[mode][5]:.3f} |")


async def run(args: argparse.Namespace) -> None:
    from app.documents import DocumentStore
    from app.documents.qdrant_backend import QdrantDocuments
    from app.runtime import process_runtime
    from app.vectors.qdrant import QdrantStore

    folder = tempfile.mkdtemp(prefix="sophia-bench-docs-")
    vectors = QdrantStore(path=folder)
    embedder = process_runtime().embedder  # EMBEDDINGS names it: the local MiniLM by default
    store = DocumentStore(QdrantDocuments(vectors), embedder)
    questions = load_questions()
    try:
        await embedder.embed(["warm-up"])  # the model's load is not ingest time
        started = time.perf_counter()
        corpus_chunks = await ingest_corpus(store)
        corpus_seconds = time.perf_counter() - started
        print(f"corpus: {len(list(CORPUS.iterdir()))} documents, {corpus_chunks} chunks in {corpus_seconds:.1f} s "
              f"({corpus_chunks / corpus_seconds:.1f} chunks/s); {len(questions)} questions")
        _recall_table(f"Recall on the corpus alone ({corpus_chunks} chunks)",
                      {mode: await recall(store, questions, mode) for mode in MODES})
        extra = max(0, args.chunks - corpus_chunks)
        if not extra:
            return
        texts = synthetic_texts(extra)
        started = time.perf_counter()
        written = 0
        for i, text in enumerate(texts):
            written += (await store.add_text(text, source=f"synthetic/{i:05d}.txt")).chunks
        seconds = time.perf_counter() - started
        total = corpus_chunks + written
        print(f"\ningest: {written} synthetic chunks in {seconds:.1f} s = {written / seconds:.1f} chunks/s "
              f"(parse, chunk, embed, write); store now holds {total} chunks")
        _recall_table(f"Recall among {total} chunks", {mode: await recall(store, questions, mode) for mode in MODES})
        queries = [q for q, _ in questions]
        print(f"\nSearch latency at {total} chunks, {args.searches} searches each, limit 5\n")
        print("| search | p50 ms | p99 ms |")
        print("|---|---|---|")
        for mode in MODES:
            p50, p99 = await latency(store, queries, mode, args.searches)
            print(f"| {mode} | {p50:.1f} | {p99:.1f} |")
        times = []
        for i in range(args.searches):
            begun = time.perf_counter()
            await embedder.embed([queries[i % len(queries)]])
            times.append((time.perf_counter() - begun) * 1000)
        print(f"| (query embedding alone) | {statistics.median(times):.1f} | {_percentile(times, 0.99):.1f} |")
    finally:
        vectors.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the store for the speed part")
    parser.add_argument("--searches", type=int, default=300, help="searches per mode for latency")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
