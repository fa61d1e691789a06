"""A memory as stored in ``agent_memory`` and returned by searches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class MemoryRecord(BaseModel):
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
        return {
            "agent_id": self.agent_id, "domain": self.domain, "role": self.role, "text": self.text,
            "source": self.source, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(), "ts": self.updated_at.timestamp(),
            "times_seen": self.times_seen,
        }

    @classmethod
    def from_payload(cls, point_id: str, payload: dict[str, Any], score: float | None = None) -> MemoryRecord:
        fields = {k: payload[k] for k in cls.model_fields if k in payload and k not in ("id", "score")}
        return cls(id=point_id, score=score, **fields)


class AddResult(BaseModel):
    memory: MemoryRecord
    merged: bool
    """True when a near-duplicate existed and was refreshed instead of storing a second copy."""


def utcnow() -> datetime:
    return datetime.now(UTC)
