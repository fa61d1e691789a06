"""Which instances see an alert firing: the first to see it notifies "firing", the last to stop "resolved".

Every instance evaluates the rules on its own traffic; a condition that several see (a shared
circuit, a provider down for all) must still notify once. The ledger keeps, per alert, the instances
that see it firing, each with an expiry (a heartbeat refreshes it): ``join`` answers True only to the
instance that found the set empty, ``leave`` only to the one that emptied it. An instance that dies
drops out when its entry expires, so the others can still resolve. An instance that finds nobody
left when it leaves (its own entry expired too) resolves: a resolution is never lost, at worst sent twice. ``RedisLedger`` shares the sets
(one sorted set per alert, each step one Lua script); ``MemoryLedger`` is one process's.
"""

from __future__ import annotations

from typing import Any

from app.core.redis_link import LoopClients

# KEYS[1] the alert's set; ARGV: instance, now, expiry, key ttl (ms). Returns 1 when the set was empty.
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if before == 0 then return 1 end
return 0
"""
# Returns 1 when the set is empty once this instance left it (its own entry may have expired already).
_LEAVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0
"""


class MemoryLedger:
    """The ledger of one process."""

    shared = False

    def __init__(self) -> None:
        self._sets: dict[str, dict[str, float]] = {}

    def _live(self, key: str, now: float) -> dict[str, float]:
        members = self._sets.setdefault(key, {})
        for gone in [m for m, until in members.items() if until <= now]:
            del members[gone]
        return members

    async def join(self, key: str, instance: str, now: float, ttl: float) -> bool:
        """Count ``instance`` in; True when nobody was."""
        members = self._live(key, now)
        first = not members
        members[instance] = now + ttl
        return first

    async def refresh(self, key: str, instance: str, now: float, ttl: float) -> None:
        """Extend ``instance``'s entry (a heartbeat)."""
        self._live(key, now)[instance] = now + ttl

    async def leave(self, key: str, instance: str, now: float) -> bool:
        """Count ``instance`` out; True when nobody is left (its own entry may have expired already)."""
        members = self._live(key, now)
        members.pop(instance, None)
        if not members:
            del self._sets[key]
            return True
        return False


class RedisLedger:
    """The ledger shared by every instance on the same Redis and ``REDIS_NAMESPACE``."""

    shared = True

    def __init__(self, url: str, namespace: str = "sophia") -> None:
        self._clients = LoopClients(url)
        self._prefix = f"{namespace}:alerts:firing:"

    def _redis(self) -> Any:
        return self._clients.client()

    async def join(self, key: str, instance: str, now: float, ttl: float) -> bool:
        """Count ``instance`` in (one script); True when the set was empty."""
        first = await self._redis().eval(_JOIN, 1, self._prefix + key, instance, now, now + ttl,
                                         int(ttl * 2000))
        return bool(first)

    async def refresh(self, key: str, instance: str, now: float, ttl: float) -> None:
        """Extend ``instance``'s entry."""
        await self.join(key, instance, now, ttl)

    async def leave(self, key: str, instance: str, now: float) -> bool:
        """Count ``instance`` out (one script); True when it emptied the set."""
        return bool(await self._redis().eval(_LEAVE, 1, self._prefix + key, instance, now))

    async def aclose(self) -> None:
        """Close the running loop's pool."""
        await self._clients.aclose()
