"""What the failover loop asks of circuit breakers: which targets to try first, and what happened.

The breakers themselves (sliding-window failure rates, cooldowns, one half-open probe, state shared
through Redis) live in ``app.resilience.breakers``; the loop only sees this port, so a manager built
bare has no breakers and tries every chain in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.core.results import Attempt
from app.core.routing import Chain


@dataclass(frozen=True, slots=True)
class Admission:
    """A chain reordered by circuit state: targets whose circuit is open go last, never away."""

    chain: Chain
    deferred: tuple[str, ...] = ()
    """Labels (``provider/model``) of the targets moved to the end because their circuit is open."""
    probes: tuple[str, ...] = field(default=())
    """Labels of half-open targets whose one probe this call holds (released by ``settle``)."""


class CircuitPort(Protocol):
    """Circuit breakers as the failover loop uses them."""

    async def admit(self, chain: Chain) -> Admission:
        """The chain to send: closed targets (and half-open ones whose probe this call won) in order,
        then the open ones; every target when all are open."""
        ...

    async def settle(self, attempts: Sequence[Attempt], probes: Sequence[str]) -> None:
        """Feed every attempt of a finished call to its target's breaker, and release ``probes``."""
        ...

    async def aclose(self) -> None:
        """Release the connections of the running event loop."""
        ...
