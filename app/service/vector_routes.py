"""The Qdrant folder this service holds, for the other processes on this machine.

Qdrant local mode locks its folder to one process; while the service runs, the spec's Python
examples, ``sophia health`` and the integration check reach agent memory through these routes
(``app.vectors.through_service`` is the client). Loopback callers only, behind the service's bearer
tokens when it has some; not rate limited (one agent call makes several store operations).

    POST /internal/vectors/{op}    op: ensure upsert search scroll scan get delete count drop health
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request

from app.service.config import is_loopback
from app.service.deps import authenticated
from app.service.state import StateDep
from app.vectors.base import Point, VectorStore


def _loopback_only(request: Request) -> None:
    if request.client is None or not is_loopback(request.client.host):
        raise HTTPException(403, "the vector-store routes serve processes on this machine only")


router = APIRouter(prefix="/internal/vectors", include_in_schema=False,
                   dependencies=[Depends(_loopback_only), Depends(authenticated)])

Operation = Callable[[VectorStore, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _ensure(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    return {"dimension": await store.ensure_collection(b["collection"], b["dimension"], b.get("keyword_fields", ()))}


async def _upsert(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    await store.upsert(b["collection"], [Point(p["id"], p["vector"], p.get("payload") or {}) for p in b["points"]])
    return {}


async def _search(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    hits = await store.search(b["collection"], b["vector"], b["limit"], b.get("where"))
    return {"hits": [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits]}


async def _scroll(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    records = await store.scroll(b["collection"], b.get("where"), b["limit"])
    return {"records": [{"id": r.id, "payload": r.payload} for r in records]}


async def _scan(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    return {"records": [{"id": r.id, "payload": r.payload} for r in await store.scan(b["collection"], b.get("where"))]}


async def _get(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    return {"records": [{"id": r.id, "payload": r.payload} for r in await store.get(b["collection"], b["ids"])]}


async def _delete(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    await store.delete(b["collection"], b.get("ids"), b.get("where") or None)
    return {}


async def _count(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    return {"count": await store.count(b["collection"], b.get("where"))}


async def _drop(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    await store.drop_collection(b["collection"])
    return {}


async def _health(store: VectorStore, b: dict[str, Any]) -> dict[str, Any]:
    ok, reason = await store.health()
    return {"ok": ok, "reason": reason}


OPERATIONS: dict[str, Operation] = {"ensure": _ensure, "upsert": _upsert, "search": _search, "scroll": _scroll,
                                    "scan": _scan, "get": _get, "delete": _delete, "count": _count, "drop": _drop,
                                    "health": _health}


@router.post("/{operation}")
async def run_operation(operation: str, state: StateDep,
                        body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:  # noqa: B008
    """Run one store operation on the folder this service holds (errors as OpenAI-style JSON)."""
    store = state.held_store
    if store is None:
        raise HTTPException(404, "this service holds no Qdrant folder (it uses QDRANT_URL)")
    run = OPERATIONS.get(operation)
    if run is None:
        raise HTTPException(404, f"unknown vector-store operation {operation!r}; expected one of "
                                 f"{', '.join(OPERATIONS)}")
    try:
        return await run(store, body)
    except (KeyError, TypeError) as exc:
        raise HTTPException(400, f"{operation}: malformed request ({type(exc).__name__}: {exc})") from None
