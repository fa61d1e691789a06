"""Per-loop pools and semantic scopes must stay bounded however a process uses them."""

import asyncio

import numpy as np

from app.cache.semantic import SemanticIndex
from app.core.transport import GatewayTransport


def test_pools_of_finished_event_loops_are_dropped():
    transport = GatewayTransport("http://127.0.0.1:9/v1", timeout=1)

    async def use() -> None:
        transport.client()

    for _ in range(5):  # each asyncio.run is a new loop, as in the spec's examples
        asyncio.run(use())
    assert len(transport._clients) <= 1


def test_semantic_index_drops_emptied_scopes():
    index = SemanticIndex(max_entries=10)
    vector = np.ones(8, np.float32) / np.sqrt(8)
    for scope in range(200):
        index.add(f"scope-{scope}", vector, f"key-{scope}", ttl=60)
    assert index._total == 10 and len(index._scopes) <= 11
