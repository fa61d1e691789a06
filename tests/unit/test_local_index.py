"""The Qdrant local-mode mirror must answer exactly as Qdrant's own filtered search does."""

import uuid

import numpy as np
import pytest

from app.vectors.local_index import LocalIndex


@pytest.fixture
def qdrant(tmp_path):
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(tmp_path))
    client.create_collection("m", vectors_config=models.VectorParams(size=16, distance=models.Distance.COSINE))
    yield client, models
    client.close()


def test_mirror_matches_qdrant_filtered_search_through_upserts_and_deletes(qdrant):
    client, models = qdrant
    rng = np.random.default_rng(7)
    index = LocalIndex(16)

    def upsert(ids, vectors, agents):
        points = [(i, v.tolist(), {"agent_id": a, "domain": "artemis"}) for i, v, a in zip(ids, vectors, agents, strict=False)]
        client.upsert("m", wait=True, points=[models.PointStruct(id=i, vector=v, payload=p) for i, v, p in points])
        index.upsert(points)

    ids = [str(uuid.uuid4()) for _ in range(300)]
    upsert(ids, rng.normal(size=(300, 16)), [f"a{i % 5}" for i in range(300)])
    upsert(ids[:40], rng.normal(size=(40, 16)), ["a9"] * 40)  # rewrites move points to another agent
    gone = ids[100:160]
    client.delete("m", points_selector=models.PointIdsList(points=gone), wait=True)
    index.delete(gone)
    assert len(index) == 240

    for agent in ("a0", "a3", "a9", "nobody"):
        for _ in range(5):
            query = rng.normal(size=16).tolist()
            where = {"agent_id": agent, "domain": "artemis"}
            expected = client.query_points("m", query=query, limit=5, with_payload=True, query_filter=models.Filter(
                must=[models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in where.items()]))
            hits = index.search(query, 5, where)
            assert [h.id for h in hits] == [str(p.id) for p in expected.points]
            assert [round(h.score, 4) for h in hits] == [round(p.score, 4) for p in expected.points]
            assert all(h.payload["agent_id"] == agent for h in hits)
    assert set(index.ids_matching({"agent_id": "a9"})) == set(ids[:40])
