"""A memory as stored in ``agent_memory`` and returned by searches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class MemoryRecord(BaseModel):
    """One memory of one agent; ``times_seen`` counts the near-duplicates merged into it."""

    id: str
    agent_id: str
    domain: str
    role: str
    text: str
    source: str
    created_at: datetime
    updated_at: datetime
    times_seen: int = 1
    score: float | None = Field(default=None, description="similarity to the query (searches only)")

    def payload(self) -> dict[str, Any]:
        """The fields stored with the vector (``ts`` added for ordering by time)."""
        return {
            "agent_id": self.agent_id, "domain": self.domain, "role": self.role, "text": self.text,
            "source": self.source, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(), "ts": self.updated_at.timestamp(),
            "times_seen": self.times_seen,
        }

    @classmethod
    def from_payload(cls, point_id: str, payload: dict[str, Any], score: float | None = None) -> MemoryRecord:
        """The memory stored as point ``point_id``; ``score`` is set for search results."""
        fields = {k: payload[k] for k in cls.model_fields if k in payload and k not in ("id", "score")}
        return cls(id=point_id, score=score, **fields)


class AddResult(BaseModel):
    """What adding a memory did: the memory as stored, and whether it was merged."""

    memory: MemoryRecord
    merged: bool
    """True when a near-duplicate existed and was refreshed instead of storing a second copy."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (what memories are stamped with)."""
    return datetime.now(UTC)
