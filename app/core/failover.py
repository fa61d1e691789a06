"""The one failover loop: send what remains of a chain, and go on after a target the gateway could not fail over.

The gateway fails over by itself within one round trip (its ``fallback`` strategy). The failures
it cannot handle are finished here: a provider's 200 whose body is unreadable or stalled (the
gateway then answers 500 and stops), a stream that breaks or stalls before its first content chunk
(the gateway never falls back once a stream started, gateway#1797). A round reports such a failure
as ``TargetFailed`` naming the target; the loop marks that attempt failed and sends the rest of the
chain. Every rule about which target is tried next belongs here:

- before each round, circuit breakers (``CircuitPort``) move targets whose circuit is open to the
  end of what remains (never away: if all are open, all are tried), and every attempt of the call
  is fed back to them once it is over;
- the call has a deadline (``app.core.deadlines``: the bound its chain's per-attempt deadlines give);
  no round starts after it, and each round may only use what is left of it.

A chain may be a strategy tree (nested fallback, loadbalance, conditional): what remains after a
target failed is then the rest of every fallback on its way (``Chain.after``), and each target
knows its number in the call's chain (``Chain.position``), however the rounds reordered it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

from app.core.circuits import CircuitPort
from app.core.deadlines import Deadlines
from app.core.failures import exhausted
from app.core.results import Attempt, RoutingInfo, Usage
from app.core.routing import Chain

T = TypeVar("T")


@dataclass
class Call:
    """One call through the manager: what it may use, and every attempt made so far."""

    kind: str
    """``chat``, ``chat_stream`` or ``embedding``."""
    chain: Chain
    trace_id: str
    metadata: Mapping[str, str] | None = None
    route: str | None = None
    """The routing policy's route the call asked for, if any."""
    complexity: str | None = None
    """The request's complexity label, when a policy classified it."""
    deadlines: Deadlines = field(default_factory=lambda: Deadlines.from_timeout(60.0))
    """Each attempt's deadlines (the settings', or the call's role's)."""
    bound: float = 0.0
    """Seconds the call may take before its answer or first content (0: ``deadlines.call_bound`` of
    the chain with no gateway retries)."""
    started: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    served: RoutingInfo | None = None
    """Set by the round that produced the answer (for a stream, once it has finished)."""
    deferred: list[str] = field(default_factory=list)
    """Targets tried last because their circuit was open (``provider/model``)."""
    expires_at: float = 0.0
    """``time.monotonic()`` by which the answer (or a stream's first content) must be in hand."""
    reached: int | None = None
    """The call's target the gateway last reported using (answered or failed)."""

    def __post_init__(self) -> None:
        if not self.bound:
            self.bound = self.deadlines.call_bound(len(self.chain.targets), 0)
        self.expires_at = time.monotonic() + self.bound

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the call started."""
        return (time.perf_counter() - self.started) * 1000

    @property
    def remaining(self) -> float:
        """Seconds left before the call's deadline (never below zero)."""
        return max(0.0, self.expires_at - time.monotonic())

    @property
    def variant(self) -> str | None:
        """The loadbalance variant the call went to, as far as it got."""
        return None if self.reached is None else self.chain.variant(self.reached)

    def routing(self, index: int, usage: Usage | None) -> RoutingInfo:
        """The routing facts of an answer served by the call's target number ``index``."""
        served = self.chain.targets[index]
        return RoutingInfo(
            provider=served.provider.name, model=served.model, fallback_used=self.chain.fallback_used(index),
            attempts=list(self.attempts), latency_ms=self.elapsed_ms, usage=usage or Usage(),
            trace_id=self.trace_id, served_index=index, circuit_open=list(self.deferred), route=self.route,
            variant=self.chain.variant(index), complexity=self.complexity,
        )

    def facts(self, routing: RoutingInfo) -> RoutingInfo:
        """``routing`` (a cache hit's) with this call's route and complexity."""
        return routing.model_copy(update={"route": self.route, "complexity": self.complexity})

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


Round = Callable[[Chain], AsyncGenerator[T, None]]
"""One round trip over what remains of the call's chain (``remaining.position(i)`` is its target
``i``'s number in the call's chain), yielding what reaches the caller: one completion, or a stream's
chunks."""


async def fail_over(call: Call, send_round: Round[T], circuits: CircuitPort | None = None
                    ) -> AsyncGenerator[T, None]:
    """What ``send_round`` yields for the first round that succeeds; raises when the chain runs out
    or the call's deadline passes."""
    call.expires_at = time.monotonic() + call.bound  # a stream's clock starts when it is first read
    remaining = call.chain
    probes: list[str] = []
    try:
        while True:
            if circuits is not None:
                admission = await circuits.admit(remaining)
                remaining = admission.chain
                probes.extend(admission.probes)
                call.deferred.extend(d for d in admission.deferred if d not in call.deferred)
            try:
                async with aclosing(send_round(remaining)) as items:
                    async for item in items:
                        yield item
                return
            except TargetFailed as failed:
                call.fail_last(failed.reason)
                remaining = remaining.after(failed.index)
                if not remaining.targets:
                    raise exhausted(call.attempts, call.trace_id, failed.reason) from None
                if call.remaining <= 0:
                    raise exhausted(call.attempts, call.trace_id,
                                    f"{failed.reason}; the call's deadline of {call.bound:g} s passed") from None
    finally:
        if circuits is not None:
            await circuits.settle(call.attempts, probes)
