"""Running N service processes: what must be shared for them to act as one, and what cannot be.

uvicorn's ``--workers`` model: one supervisor, N worker processes that each import the app and run
the lifespan (their own manager, gateway pool, evaluator, background health probes). State that must
agree across them lives in Redis (cache, semantic-cache answers, limits, budgets, breakers, alert
ledger and history) and in the analytics database; what stays per process is listed in the README's
"Running many instances". Two stores lock their files to one process and are refused here.
"""

from __future__ import annotations

import logging
from typing import Any

from app.core.errors import ConfigurationError

log = logging.getLogger("app.service")


def check_many_processes(settings: Any, workers: int) -> None:
    """Refuse ``workers`` > 1 on a store that only one process may open; warn about per-process state."""
    if workers <= 1:
        return
    if settings.memory_enabled and settings.vector_store == "qdrant" and not settings.qdrant_url:
        folder = settings.qdrant_path or "the default under SOPHIA_DATA_DIR"
        raise ConfigurationError(
            f"--workers {workers}: agent memory is on Qdrant local mode, whose folder ({folder}) only one "
            "process may open. Run a Qdrant server and set QDRANT_URL "
            "(every worker and host then shares the memories), or set MEMORY_ENABLED=false",
            env_vars=["QDRANT_URL", "MEMORY_ENABLED"])
    milvus_lite = not (settings.milvus_uri or "").startswith(("http://", "https://", "tcp://"))
    if settings.memory_enabled and settings.vector_store == "milvus" and milvus_lite:
        raise ConfigurationError(
            f"--workers {workers}: agent memory is on Milvus Lite, a file only one process may open. Run a Milvus "
            "server and set MILVUS_URI=http://host:19530, or set MEMORY_ENABLED=false",
            env_vars=["MILVUS_URI", "MEMORY_ENABLED"])
    grounding = getattr(settings, "documents_top_k", 0) > 0
    if grounding and not settings.qdrant_url and not settings.weaviate_url:
        raise ConfigurationError(
            f"--workers {workers}: document grounding is on Qdrant local mode, whose folder only one process may "
            "open. Run a Qdrant server (QDRANT_URL) or a Weaviate server (WEAVIATE_URL), or set DOCUMENTS_TOP_K=0",
            env_vars=["QDRANT_URL", "WEAVIATE_URL", "DOCUMENTS_TOP_K"])
    if not settings.redis_url:
        log.warning("--workers %d without REDIS_URL: the cache, limits, budgets, circuit breakers and alert "
                    "deduplication are per worker (set REDIS_URL to share them)", workers)
    if settings.database_url is None:
        log.warning("--workers %d with SQLite analytics: the workers of this host share one file; several hosts "
                    "need DATABASE_URL (PostgreSQL) for one history", workers)
