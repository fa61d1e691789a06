"""Circuit breakers per target (provider + model), shared by every instance through Redis when set.

What Portkey hosted (``cb_config``) and LiteLLM (cooldowns) do, and what is done here instead:

- **Failure rate over a sliding window, with a minimum count.** Portkey counts failures since the
  first one, LiteLLM per current minute (a fixed window that forgets at each minute's turn). Here the
  window slides (``window`` seconds in ``BUCKETS`` buckets), and a circuit opens only once at least
  ``min_requests`` attempts were seen in it and at least ``failure_rate`` of them failed.
- **Every attempt counts**, retries included, as the gateway reports them (``x-sophia-attempts``),
  not only the call's final answer: a target that needed four tries to fail counts four failures.
  What is a failure is decided by status: 5xx, 408, 429, 401, 403, 404 and every attempt without an
  answer (refused, dropped, timeout, stalled, unreadable); a 400 or 422 is the request's fault and
  counts for nothing.
- **Half-open with one probe.** Portkey closes the circuit when the cooldown ends (all traffic comes
  back at once); here the first call after the cooldown wins the one probe (``SET NX PX`` in Redis:
  exactly one in flight across instances, and a prober that dies frees it after ``probe_lease``),
  every other call keeps the target last. The probe's success closes the circuit; its failure opens
  it again for twice as long (up to ``max_cooldown``).
- **Open targets go last, never away**: the chain keeps them after the others, so a call fails only
  if every target fails, and when all are open all are tried. A deferred target that answers closes.

State lives in a ``BreakerStore``: ``MemoryBreakerStore`` (one process) or ``RedisBreakerStore`` (shared).
While Redis is down the breakers go on in process memory (one warning), so a sick provider is still
kept last.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from app.core.circuits import Admission
from app.core.outage import Outage
from app.core.redis_link import LoopClients, redis_location
from app.core.results import Attempt
from app.core.routing import Chain
from app.resilience import metrics

log = logging.getLogger("app.resilience")

BUCKETS = 10
"""Buckets of the sliding window (its edge is exact to a tenth of the window)."""
FAILURE_STATUSES = frozenset({401, 403, 404, 408, 429})


class CircuitState(str, Enum):
    """Where a target's circuit is: closed (used), open (kept last), half-open (one probe allowed)."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a circuit opens and for how long (``CIRCUIT_*`` settings)."""

    window: float = 60.0
    min_requests: int = 10
    failure_rate: float = 0.5
    cooldown: float = 30.0
    max_cooldown: float = 300.0
    probe_lease: float = 60.0
    """Seconds a half-open probe may stay in flight before another call may probe (a crashed prober)."""

    def cooldown_for(self, level: int) -> float:
        """The cooldown after the circuit opened ``level`` times in a row (probes that failed)."""
        return min(self.cooldown * 2**level, self.max_cooldown)

    def bucket(self, now: float) -> int:
        """The number of the window's bucket (one of ``BUCKETS``) that ``now`` falls in."""
        return math.floor(now / (self.window / BUCKETS))


@dataclass(frozen=True, slots=True)
class Trip:
    """An open circuit: open until ``until`` (epoch seconds), then half-open; ``level`` counts re-openings."""

    until: float
    level: int = 0

    def state(self, now: float) -> CircuitState:
        """Open before ``until``, half-open after."""
        return CircuitState.OPEN if now < self.until else CircuitState.HALF_OPEN


def verdict(attempt: Attempt) -> bool | None:
    """True for a success, False for a failure of the target, None for the request's own fault."""
    if attempt.ok and not attempt.error:
        return True
    status = attempt.status
    if status is None or status >= 500 or status in FAILURE_STATUSES or attempt.error:
        return False
    return None


class BreakerStore(Protocol):
    """Where circuit state lives; each method is one atomic step (one Redis command or script)."""

    async def trips(self, labels: Sequence[str]) -> list[Trip | None]:
        """Each target's trip, or None for a closed circuit."""
        ...

    async def count(self, label: str, successes: int, failures: int, now: float) -> tuple[int, int]:
        """Add outcomes to the target's window; the window's (attempts, failures) after adding."""
        ...

    async def window(self, label: str, now: float) -> tuple[int, int]:
        """The target's window: (attempts, failures)."""
        ...

    async def trip(self, label: str, trip: Trip, now: float) -> bool:
        """Open a closed circuit; False when it was already open (another instance did it)."""
        ...

    async def reopen(self, label: str, trip: Trip, now: float) -> None:
        """Open the circuit again after a failed probe, and free the probe."""
        ...

    async def claim_probe(self, label: str) -> bool:
        """Take the target's one half-open probe; False when another call holds it."""
        ...

    async def release_probe(self, label: str) -> None:
        """Free the probe without a verdict."""
        ...

    async def close(self, label: str) -> bool:
        """Close the circuit and forget its window; False when it was not open."""
        ...


class MemoryBreakerStore:
    """Circuit state in this process's memory."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self._trips: dict[str, Trip] = {}
        self._windows: dict[str, dict[int, list[int]]] = {}
        self._probes: dict[str, float] = {}

    async def trips(self, labels: Sequence[str]) -> list[Trip | None]:
        """Each target's trip, or None."""
        return [self._trips.get(label) for label in labels]

    async def count(self, label: str, successes: int, failures: int, now: float) -> tuple[int, int]:
        """Add outcomes and read the window."""
        buckets = self._windows.setdefault(label, {})
        cell = buckets.setdefault(self.policy.bucket(now), [0, 0])
        cell[0] += successes + failures
        cell[1] += failures
        return await self.window(label, now)

    async def window(self, label: str, now: float) -> tuple[int, int]:
        """(attempts, failures) in the window, dropping buckets that slid out of it."""
        buckets = self._windows.get(label, {})
        oldest = self.policy.bucket(now) - BUCKETS + 1
        for stale in [b for b in buckets if b < oldest]:
            del buckets[stale]
        return sum(c[0] for c in buckets.values()), sum(c[1] for c in buckets.values())

    async def trip(self, label: str, trip: Trip, now: float) -> bool:
        """Open the circuit unless it already is."""
        if label in self._trips:
            return False
        self._trips[label] = trip
        self._windows.pop(label, None)
        return True

    async def reopen(self, label: str, trip: Trip, now: float) -> None:
        """Open again, free the probe."""
        self._trips[label] = trip
        self._probes.pop(label, None)

    async def claim_probe(self, label: str) -> bool:
        """Take the probe unless someone holds a live one."""
        now = self._clock()
        if self._probes.get(label, 0.0) > now:
            return False
        self._probes[label] = now + self.policy.probe_lease
        return True

    async def release_probe(self, label: str) -> None:
        """Free the probe."""
        self._probes.pop(label, None)

    async def close(self, label: str) -> bool:
        """Close and forget."""
        self._probes.pop(label, None)
        self._windows.pop(label, None)
        return self._trips.pop(label, None) is not None


# Adds outcomes to the current bucket and sums the window, dropping buckets that slid out, in one step.
_COUNT = """
local key, bucket, oldest = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', key, bucket .. 'n', ARGV[3]) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', key, bucket .. 'f', ARGV[4]) end
redis.call('PEXPIRE', key, ARGV[5])
local fields, n, f = redis.call('HGETALL', key), 0, 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if tonumber(string.sub(name, 1, -2)) < oldest then redis.call('HDEL', key, name)
  elseif string.sub(name, -1) == 'n' then n = n + tonumber(fields[i + 1])
  else f = f + tonumber(fields[i + 1]) end
end
return {n, f}
"""


class RedisBreakerStore:
    """Circuit state in Redis, shared by every instance using the same ``REDIS_URL`` and namespace."""

    def __init__(self, url: str, policy: BreakerPolicy, namespace: str = "sophia") -> None:
        self.policy = policy
        self.location = redis_location(url)
        self._clients = LoopClients(url)
        self._prefix = f"{namespace}:circuit:"

    def _redis(self) -> Any:
        return self._clients.client()

    def _key(self, label: str, part: str) -> str:
        return f"{self._prefix}{label}:{part}"

    async def trips(self, labels: Sequence[str]) -> list[Trip | None]:
        """One MGET of the targets' trips."""
        values = await self._redis().mget([self._key(label, "trip") for label in labels])
        out: list[Trip | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            until, _, level = value.decode().partition(":")
            out.append(Trip(float(until), int(level or 0)))
        return out

    async def count(self, label: str, successes: int, failures: int, now: float) -> tuple[int, int]:
        """Add and read in one script."""
        bucket = self.policy.bucket(now)
        n, f = await self._redis().eval(_COUNT, 1, self._key(label, "window"), bucket, bucket - BUCKETS + 1,
                                        successes + failures, failures, int(self.policy.window * 1000) + 1000)
        return int(n), int(f)

    async def window(self, label: str, now: float) -> tuple[int, int]:
        """Read the window (the same script, adding nothing)."""
        return await self.count(label, 0, 0, now)

    def _trip_ttl_ms(self, trip: Trip, now: float) -> int:
        # Kept past its end (the half-open state), and forgotten after a long quiet time: the next
        # traffic then starts closed.
        return max(1, int((trip.until - now + self.policy.max_cooldown + self.policy.window) * 1000))

    async def trip(self, label: str, trip: Trip, now: float) -> bool:
        """SET NX: only one instance opens a circuit."""
        done = await self._redis().set(self._key(label, "trip"), f"{trip.until}:{trip.level}", nx=True,
                                       px=self._trip_ttl_ms(trip, now))
        if done:
            await self._redis().delete(self._key(label, "window"))
        return bool(done)

    async def reopen(self, label: str, trip: Trip, now: float) -> None:
        """Overwrite the trip and free the probe."""
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.set(self._key(label, "trip"), f"{trip.until}:{trip.level}", px=self._trip_ttl_ms(trip, now))
            pipe.delete(self._key(label, "probe"))
            await pipe.execute()

    async def claim_probe(self, label: str) -> bool:
        """SET NX PX: exactly one probe in flight across instances."""
        return bool(await self._redis().set(self._key(label, "probe"), "1", nx=True,
                                            px=int(self.policy.probe_lease * 1000)))

    async def release_probe(self, label: str) -> None:
        """Delete the probe key."""
        await self._redis().delete(self._key(label, "probe"))

    async def close(self, label: str) -> bool:
        """Delete trip, window and probe; True when a trip was deleted."""
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.delete(self._key(label, "trip"))
            pipe.delete(self._key(label, "window"), self._key(label, "probe"))
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def aclose(self) -> None:
        """Close the running loop's connection pool."""
        await self._clients.aclose()


class CircuitBreakers:
    """The failover loop's ``CircuitPort``: admits chains and learns from every attempt.

    With a shared store that fails, the breakers go on with ``fallback`` (this process's memory)
    until the shared one answers again.
    """

    def __init__(self, policy: BreakerPolicy, store: BreakerStore | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self.fallback = MemoryBreakerStore(policy, clock)
        self.store: BreakerStore = store if store is not None else self.fallback
        self.shared = store is not None
        self.outage = Outage("circuit breaker store", 1.0, log, consequence="circuits are kept per process")

    async def _run(self, step: str, *args: Any) -> Any:
        """``step`` (a ``BreakerStore`` method) on the shared store, or on the fallback while it is down."""
        if self.store is self.fallback or self.outage.paused:
            return await getattr(self.fallback, step)(*args)
        try:
            result = await getattr(self.store, step)(*args)
        except Exception as exc:  # noqa: BLE001 - a broken shared store must not break routing
            self.outage.failed(type(exc).__name__)
            return await getattr(self.fallback, step)(*args)
        self.outage.succeeded()
        return result

    async def admit(self, chain: Chain) -> Admission:
        """Closed targets (and half-open ones whose probe this call won) first, in order, then the others
        (in a strategy tree: per fallback, and out of a loadbalance while another variant remains)."""
        labels = [t.label for t in chain.targets]
        trips = await self._run("trips", labels)
        now = self._clock()
        deferred: list[str] = []
        probes: list[str] = []
        for target, trip in zip(chain.targets, trips, strict=True):
            state = CircuitState.CLOSED if trip is None else trip.state(now)
            if state is CircuitState.HALF_OPEN and await self._run("claim_probe", target.label):
                metrics.transition(target.label, CircuitState.HALF_OPEN.value)
                probes.append(target.label)
                continue
            metrics.state(target.label, state.value)
            if state is not CircuitState.CLOSED:
                deferred.append(target.label)
        if not deferred:
            return Admission(chain, (), tuple(probes))
        return Admission(chain.deferring(frozenset(deferred)), tuple(deferred), tuple(probes))

    async def settle(self, attempts: Sequence[Attempt], probes: Sequence[str]) -> None:
        """Feed a finished call's attempts to each target's breaker; free the probes this call held."""
        outcomes: dict[str, list[bool]] = {}
        for attempt in attempts:
            ok = verdict(attempt)
            if ok is not None:
                outcomes.setdefault(f"{attempt.provider}/{attempt.model}", []).append(ok)
        for label in probes:
            if label not in outcomes:
                await self._run("release_probe", label)
        if not outcomes:
            return
        labels = list(outcomes)
        trips = await self._run("trips", labels)
        now = self._clock()
        for label, trip in zip(labels, trips, strict=True):
            results = outcomes[label]
            if trip is None:
                await self._count(label, results, now)
            elif any(results):
                if await self._run("close", label):
                    metrics.transition(label, CircuitState.CLOSED.value)
            elif label in probes:
                again = Trip(now + self.policy.cooldown_for(trip.level + 1), trip.level + 1)
                await self._run("reopen", label, again, now)
                metrics.transition(label, CircuitState.OPEN.value)
                log.warning("circuit of %s open again for %.0f s (its probe failed)", label, again.until - now)

    async def _count(self, label: str, results: list[bool], now: float) -> None:
        failures = results.count(False)
        total, failed = await self._run("count", label, len(results) - failures, failures, now)
        if total < self.policy.min_requests or failed < self.policy.failure_rate * total:
            return
        trip = Trip(now + self.policy.cooldown, 0)
        if await self._run("trip", label, trip, now):
            metrics.transition(label, CircuitState.OPEN.value)
            log.warning("circuit of %s open for %.0f s: %d of the last %d attempts failed", label,
                        self.policy.cooldown, failed, total)

    async def snapshot(self, labels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each target's circuit: state, the window's attempts and failures, and when an open one may be probed."""
        labels = list(dict.fromkeys(labels))
        trips = await self._run("trips", labels)
        now = self._clock()
        out: dict[str, dict[str, Any]] = {}
        for label, trip in zip(labels, trips, strict=True):
            state = CircuitState.CLOSED if trip is None else trip.state(now)
            metrics.state(label, state.value)
            total, failed = await self._run("window", label, now)
            entry: dict[str, Any] = {"state": state.value, "attempts": total, "failures": failed}
            if trip is not None:
                entry["probe_after_s"] = round(max(0.0, trip.until - now), 1)
            out[label] = entry
        return out

    async def aclose(self) -> None:
        """Close the shared store's connections."""
        closer = getattr(self.store, "aclose", None)
        if closer is not None:
            await closer()


def breakers_from_settings(settings: Any) -> CircuitBreakers | None:
    """The breakers the settings call for (shared through Redis with ``REDIS_URL``); None when turned off."""
    if not settings.circuit_breaker:
        return None
    from app.core.deadlines import Deadlines

    policy = BreakerPolicy(
        window=settings.circuit_window, min_requests=settings.circuit_min_requests,
        failure_rate=settings.circuit_failure_rate, cooldown=settings.circuit_cooldown,
        max_cooldown=max(settings.circuit_max_cooldown, settings.circuit_cooldown),
        probe_lease=Deadlines.from_timeout(settings.request_timeout).per_target(settings.max_retries),
    )
    store = RedisBreakerStore(settings.redis_url, policy, settings.redis_namespace) if settings.redis_url else None
    return CircuitBreakers(policy, store)
