"""What the manager asks of limits and budgets: may this call go, and what did it use.

The limits themselves (per role, agent and API token, shared through Redis) live in
``app.resilience.limits``; a manager built bare has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.core.results import RoutingInfo


class LimitPort(Protocol):
    """Limits and budgets as the manager uses them."""

    async def admit(self, metadata: Mapping[str, str] | None) -> None:
        """Count one call of the caller ``metadata`` describes; raise a ``LimitError`` when it is over a limit."""
        ...

    async def account(self, metadata: Mapping[str, str] | None, routing: RoutingInfo | None) -> None:
        """Add what a finished call used (tokens, cost) to its caller's counters."""
        ...
