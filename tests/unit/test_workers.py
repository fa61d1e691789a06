"""`sophia serve --workers N` refuses stores that only one process may open, naming what to use instead."""

from __future__ import annotations

import pytest

from app.core.errors import ConfigurationError
from app.core.settings import load_settings
from app.service.workers import check_many_processes


def settings(**values):
    return load_settings(_env_file=None, **{"memory_enabled": False, "documents_top_k": 0, **values})


@pytest.mark.parametrize("values, named", [
    ({"memory_enabled": True}, "QDRANT_URL"),
    ({"memory_enabled": True, "vector_store": "milvus", "milvus_uri": "/tmp/m.db"}, "MILVUS_URI=http://"),
    ({"documents_top_k": 4}, "WEAVIATE_URL"),
])
def test_one_process_stores_are_refused_with_what_to_use_instead(values, named):
    with pytest.raises(ConfigurationError) as info:
        check_many_processes(settings(**values), 2)
    assert named in str(info.value) and "--workers 2" in str(info.value)


def test_servers_and_one_worker_are_fine(caplog):
    check_many_processes(settings(memory_enabled=True), 1)
    check_many_processes(settings(memory_enabled=True, qdrant_url="http://qdrant:6333", documents_top_k=4,
                                  redis_url="redis://r:6379/0", database_url="postgresql://u@db/x"), 4)
    assert "REDIS_URL" not in caplog.text
    check_many_processes(settings(memory_enabled=True, vector_store="milvus", milvus_uri="http://milvus:19530"), 2)
    assert "without REDIS_URL" in caplog.text and "SQLite" in caplog.text
