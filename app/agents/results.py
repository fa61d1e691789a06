"""What agents return: an ExecutionResult for every call, a BusinessInsight for Sophia's insights."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from app.core.results import Attempt, CacheStatus, Usage
from app.routing import Output

INSIGHT_OUTPUT = Output((
    ("summary", "2-4 sentences"), ("key_points", "list of strings"), ("recommendations", "list of strings"),
    ("confidence", "number from 0 to 1"),
))
"""The JSON a Sophia role answers in when its routing-file entry gives no ``output`` (what ``parse_insight`` reads)."""


class ExecutionResult(BaseModel):
    """An agent's answer and how it was produced: provider, fallbacks, latency, tokens, cost.

    ``cost_usd`` is in US dollars: 0 for a cache hit, None when the model has no price entry.
    ``citations`` are the document chunks the prompt was grounded on (``source#chunk``; grounded roles only).
    """

    content: str
    provider: str
    model: str
    fallback_used: bool
    attempts: list[Attempt]
    latency_ms: float
    usage: Usage
    cost_usd: float | None = None
    cached: CacheStatus = None
    trace_id: str
    agent_id: str
    role: str
    citations: list[str] = Field(default_factory=list)
    variant: str | None = None
    """The loadbalance variant that served, when the role's strategy is an A/B test."""
    complexity: str | None = None
    """``simple`` or ``complex`` when the role's strategy classified the request."""


class BusinessInsight(BaseModel):
    """A Sophia answer read from the model's JSON: summary, points, recommendations, sources.

    ``citations``: the provider's web citations (Perplexity), the document chunks the answer was
    grounded on (``source#chunk``), then the sources the model named, without repeats.

    ``confidence`` (0 to 1) is None when the model gave none or the answer was not JSON.
    """

    summary: str
    key_points: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    confidence: float | None = Field(default=None, ge=0, le=1)
    citations: list[str] = Field(default_factory=list)
    execution: ExecutionResult


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    if isinstance(value, str) and value.strip():
        return [value]
    return []


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if 1 < value <= 100:  # a percentage
        value /= 100
    return value if 0 <= value <= 1 else None


def parse_insight(execution: ExecutionResult, citations: list[str]) -> BusinessInsight:
    """Read the model's JSON answer; any other answer becomes a plain summary with no confidence."""
    text = execution.content.strip()
    fenced = _FENCE.match(text)
    try:
        data = json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not str(data.get("summary", "")).strip():
        return BusinessInsight(summary=text, citations=citations, execution=execution)
    sources = _strings(data.get("sources")) + _strings(data.get("citations"))
    return BusinessInsight(
        summary=str(data["summary"]).strip(),
        key_points=_strings(data.get("key_points")),
        recommendations=_strings(data.get("recommendations")),
        confidence=_confidence(data.get("confidence")),
        citations=list(dict.fromkeys([*citations, *sources])),
        execution=execution,
    )
