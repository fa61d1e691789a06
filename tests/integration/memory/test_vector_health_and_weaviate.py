"""Store health as the health check reports it, and Weaviate against a server when one is reachable."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

from app.core.settings import load_settings
from app.health import HealthChecker
from app.vectors import Point
from app.vectors.probes import store_probes
from app.vectors.registry import close_stores
from app.vectors.weaviate import WeaviateStore
from tests.integration.memory.conftest import closed_port
from tests.support import need_service

WEAVIATE_URL = os.environ.get("WEAVIATE_URL", "")


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except (OSError, RuntimeError):  # RuntimeError: the test guard refuses non-loopback hosts
        return False


async def test_health_reports_every_store_with_a_reason(tmp_path):
    settings = load_settings(_env_file=None, qdrant_path=str(tmp_path / "qdrant"), milvus_uri=str(tmp_path / "m.db"),
                             qdrant_api_key="qk-secret-value-123456")
    try:
        stores = await HealthChecker(None, store_probes(settings)).stores()
    finally:
        close_stores()
    assert stores["qdrant"].ok and f"local mode at {tmp_path / 'qdrant'}" in stores["qdrant"].reason
    assert stores["milvus"].ok and "Milvus Lite at" in stores["milvus"].reason
    assert not stores["weaviate"].ok and stores["weaviate"].reason == "not configured"


@pytest.mark.filterwarnings("ignore:Failed to obtain server version", "ignore:Api key is used with an insecure")
async def test_health_of_servers_that_are_down_names_the_problem_without_keys():
    port = closed_port()
    settings = load_settings(_env_file=None, qdrant_url=f"http://127.0.0.1:{port}",
                             qdrant_api_key="qk-secret-value-123456", weaviate_url=f"http://127.0.0.1:{port}")
    try:
        stores = await HealthChecker(None, store_probes(settings), probe_timeout=5).stores()
    finally:
        close_stores()
    for name in ("qdrant", "weaviate"):
        assert not stores[name].ok and stores[name].reason != "not configured"
        assert "qk-secret" not in stores[name].reason
    assert "qdrant-server" in stores["qdrant"].reason


@pytest.mark.skipif(not WEAVIATE_URL,
                    reason="no Weaviate server: embedded Weaviate downloads a server binary and cannot run here; "
                           "set WEAVIATE_URL to a reachable (loopback) Weaviate server to run this test")
async def test_weaviate_server_round_trip():
    if not _reachable(WEAVIATE_URL):  # named but down: under CI=true a failure, not a quiet skip
        need_service("Weaviate", f"nothing answers at {WEAVIATE_URL}")
    store = WeaviateStore(WEAVIATE_URL)
    collection = f"sophia_test_{uuid.uuid4().hex[:8]}"
    try:
        assert await store.ensure_collection(collection, 3) == 3
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        await store.upsert(collection, [Point(a, [1, 0, 0], {"agent_id": "x"}), Point(b, [0, 1, 0], {"agent_id": "y"})])
        hits = await store.search(collection, [1, 0.1, 0], 2, {"agent_id": "x"})
        assert [h.id for h in hits] == [a] and hits[0].score > 0.9
        assert await store.count(collection) == 2 and [r.id for r in await store.get(collection, [b])] == [b]
        await store.delete(collection, where={"agent_id": "y"})
        assert await store.count(collection) == 1
        assert (await store.health())[0]
    finally:
        await store.drop_collection(collection)
        store.close()
