"""Resilience beyond one call: circuit breakers per target, and limits and budgets per caller.

Both keep their state in Redis when ``REDIS_URL`` is set, so every instance agrees; in process
memory otherwise. The composition root (``app.runtime``) builds them from the settings and hands
the breakers to the manager's failover loop and the limits to the manager.
"""

from app.resilience.breakers import (
    BreakerPolicy,
    CircuitBreakers,
    CircuitState,
    MemoryBreakerStore,
    RedisBreakerStore,
    breakers_from_settings,
)
from app.resilience.limits import CallLimits, limits_from_settings, token_digest

__all__ = [
    "BreakerPolicy",
    "CallLimits",
    "CircuitBreakers",
    "CircuitState",
    "MemoryBreakerStore",
    "RedisBreakerStore",
    "breakers_from_settings",
    "limits_from_settings",
    "token_digest",
]
