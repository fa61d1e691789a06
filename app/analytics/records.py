"""One request's analytics row, built from the CallRecord the manager reports."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from app.core.observation import CallRecord
from app.core.pricing import cache_tokens
from app.telemetry.cost import call_cost


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One call as a row of the requests table."""

    ts: float
    """Unix time the call ended."""
    kind: str
    trace_id: str
    domain: str | None
    agent_id: str | None
    role: str | None
    requested: str
    """The chain's first target, ``provider/model``."""
    requested_provider: str
    provider: str | None
    """The provider that served (None when the call failed)."""
    model: str | None
    served_index: int | None
    fallback_used: bool
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    cache_status: str | None
    error_class: str | None
    attempts: str
    """JSON list of ``[provider, ok]`` pairs, for provider health over time."""
    route: str | None = None
    """The routing file's route the call asked for."""
    variant: str | None = None
    """The loadbalance variant (an A/B test's arm) it went to."""
    complexity: str | None = None
    """``simple`` or ``complex``, when a policy classified it."""

    def as_row(self) -> dict[str, object]:
        """The row as a column -> value dict."""
        return asdict(self)


def record_from_call(record: CallRecord, now: float | None = None) -> RequestRecord:
    """The row of one finished call; ``now`` (unix time) defaults to the current time.

    Cost is 0 for a cache hit and None for an unpriced model.
    """
    routing = record.routing
    meta = record.metadata
    attempts = routing.attempts if routing else getattr(record.error, "attempts", ())
    prompt = completion = 0
    cost = None
    if routing is not None:
        prompt, completion = routing.usage.prompt_tokens, routing.usage.completion_tokens
        cost = 0.0 if routing.cached else call_cost(routing.provider, routing.model, prompt, completion,
                                                    *cache_tokens(routing.usage))
    return RequestRecord(
        ts=time.time() if now is None else now,
        kind=record.kind,
        trace_id=record.trace_id,
        domain=meta.get("domain"),
        agent_id=meta.get("agent_id"),
        role=meta.get("role"),
        requested=record.chain[0] if record.chain else "",
        requested_provider=record.chain[0].split("/", 1)[0] if record.chain else "",
        provider=routing.provider if routing else None,
        model=routing.model if routing else None,
        served_index=routing.served_index if routing else None,
        fallback_used=bool(routing and routing.fallback_used),
        latency_ms=round(record.latency_ms, 3),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        cache_status=routing.cached if routing else None,
        error_class=type(record.error).__name__ if record.error is not None else None,
        attempts=json.dumps([[a.provider, a.ok] for a in attempts]),
        route=record.route,
        variant=record.variant,
        complexity=record.complexity,
    )
