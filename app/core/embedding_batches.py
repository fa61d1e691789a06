"""Embeddings of many texts: split into batches sent concurrently, merged back in input order."""

from __future__ import annotations

import asyncio
import math

from app.core.failover import Call
from app.core.results import Attempt, Embedding, EmbeddingResponse, Usage
from app.core.rounds import GatewayRounds

EMBEDDING_BATCH = 128
EMBEDDING_CONCURRENCY = 4


def waves(texts: int, batch_size: int = EMBEDDING_BATCH, concurrency: int = EMBEDDING_CONCURRENCY) -> int:
    """How many rounds of concurrent batches ``texts`` texts take: the call's deadline covers one per wave."""
    batches = math.ceil(texts / batch_size)
    return max(1, math.ceil(batches / concurrency))


async def embed_in_batches(rounds: GatewayRounds, call: Call, texts: list[str], batch_size: int = EMBEDDING_BATCH,
                           concurrency: int = EMBEDDING_CONCURRENCY) -> EmbeddingResponse:
    """One answer for all ``texts``; a failed batch fails the call and cancels the batches still running."""
    semaphore = asyncio.Semaphore(concurrency)
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]

    async def one(batch: list[str]) -> tuple[EmbeddingResponse, list[Attempt]]:
        async with semaphore:
            return await rounds.embeddings(call, batch)

    tasks = [asyncio.ensure_future(one(b)) for b in batches]
    try:
        parts = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # one batch failed: the call failed, stop paying for the others
            task.cancel()
        raise
    data: list[Embedding] = []
    usage, start = Usage(), 0
    for (part, part_attempts), batch in zip(parts, batches, strict=True):
        data.extend(item.model_copy(update={"index": start + item.index})
                    for item in sorted(part.data, key=lambda d: d.index))
        start += len(batch)
        call.attempts.extend(part_attempts)
        if part.usage:
            usage = Usage(prompt_tokens=usage.prompt_tokens + part.usage.prompt_tokens,
                          total_tokens=usage.total_tokens + part.usage.total_tokens)
    target = call.chain.primary
    result = EmbeddingResponse(data=data, model=parts[0][0].model or target.model, usage=usage)
    result.routing = call.served = call.routing(0, usage)
    return result
