"""The one failover loop: send what remains of a chain, and go on after a target the gateway could not fail over.

The gateway fails over by itself within one round trip (its ``fallback`` strategy). Two failures
it cannot handle are finished here: a provider's 200 whose body is unreadable (the gateway then
answers 500 and stops) and a stream that breaks before its first content chunk (the gateway never
falls back once a stream started, gateway#1797). A round reports such a failure as ``TargetFailed``
naming the target; the loop marks that attempt failed and sends the rest of the chain. Every rule
about which target is tried next (deadlines, open circuits, policies) belongs here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

from app.core.failures import exhausted
from app.core.results import Attempt, RoutingInfo, Usage
from app.core.routing import Chain, Target

T = TypeVar("T")


@dataclass
class Call:
    """One call through the manager: what it may use, and every attempt made so far."""

    kind: str
    """``chat``, ``chat_stream`` or ``embedding``."""
    chain: Chain
    trace_id: str
    metadata: Mapping[str, str] | None = None
    started: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    served: RoutingInfo | None = None
    """Set by the round that produced the answer (for a stream, once it has finished)."""

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the call started."""
        return (time.perf_counter() - self.started) * 1000

    def routing(self, served: Target, index: int, usage: Usage | None) -> RoutingInfo:
        """The routing facts of an answer served by ``served``, the chain's target number ``index``."""
        return RoutingInfo(
            provider=served.provider.name, model=served.model, fallback_used=index > 0,
            attempts=list(self.attempts), latency_ms=self.elapsed_ms, usage=usage or Usage(),
            trace_id=self.trace_id, served_index=index,
        )

    def fail_last(self, reason: str) -> None:
        """Record that the last attempt, reported as answered, produced nothing usable."""
        if self.attempts:
            self.attempts[-1] = self.attempts[-1].model_copy(update={"status": None, "error": reason})


class TargetFailed(Exception):
    """Raised by a round: target ``index`` of the chain it was sent failed where the gateway could not
    fail over, before anything reached the caller. The loop goes on with the targets after it."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


Round = Callable[[Chain, int], AsyncGenerator[T, None]]
"""One round trip over ``remaining`` (whose first target is the call's target number ``offset``),
yielding what reaches the caller: one completion, or a stream's chunks."""


async def fail_over(call: Call, send_round: Round[T]) -> AsyncGenerator[T, None]:
    """What ``send_round`` yields for the first round that succeeds; raises when the chain runs out."""
    remaining, offset = call.chain, 0
    while True:
        try:
            async with aclosing(send_round(remaining, offset)) as items:
                async for item in items:
                    yield item
            return
        except TargetFailed as failed:
            call.fail_last(failed.reason)
            if failed.index + 1 >= len(remaining.targets):
                raise exhausted(call.attempts, call.trace_id, failed.reason) from None
            offset += failed.index + 1
            remaining = remaining.after(failed.index)
