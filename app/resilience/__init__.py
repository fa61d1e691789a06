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

__all__ = ["BreakerPolicy", "CircuitBreakers", "CircuitState", "MemoryBreakerStore", "RedisBreakerStore",
           "breakers_from_settings"]
