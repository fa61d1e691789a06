"""The health check of the spec: providers probed for real through the gateway, stores pinged.

    {"status": "operational" | "degraded" | "down",
     "portkey_providers": {provider: bool}, "vector_databases": {store: bool}, "details": {...}}

operational: every configured provider answered. degraded: some failed, but every role still has
a healthy provider. down: the gateway is unreachable, or some role has no healthy provider left.
Probe results are kept for ``ttl`` seconds so health can be polled without costing a call each time.
Nothing in here raises: every failure becomes a false with a reason.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.errors import GatewayUnavailableError
from app.core.providers import PROVIDERS
from app.core.redaction import describe_error
from app.vectors.probes import milvus_probe, qdrant_probe, weaviate_probe

PROBE_MESSAGES = [{"role": "user", "content": "ping"}]
StoreProbe = Callable[[], Awaitable[tuple[bool, str]]]


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    reason: str
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "reason": self.reason}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 1)
        return out


_store_probes: dict[str, Callable[[Any], StoreProbe | None]] = {}


def register_store_probe(name: str, make: Callable[[Any], StoreProbe | None]) -> None:
    """Add a store to ``vector_databases``: ``make(settings)`` returns a probe, or None if unconfigured."""
    _store_probes[name] = make


class HealthChecker:
    def __init__(self, manager: Any, ttl: float = 15.0, probe_timeout: float = 10.0) -> None:
        self.manager = manager
        self.ttl = ttl
        self.probe_timeout = probe_timeout
        self._cache: tuple[float, dict[str, Check], bool] | None = None
        self._lock: asyncio.Lock | None = None

    async def _probe(self, provider: str) -> tuple[Check, bool]:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                self.manager.acreate_completion(provider=provider, messages=PROBE_MESSAGES, fallbacks=[],
                                                max_tokens=1, metadata={"purpose": "health"}, cache=False),
                self.probe_timeout,
            )
        except GatewayUnavailableError as exc:
            return Check(False, str(exc)), True
        except TimeoutError:
            return Check(False, f"no answer within {self.probe_timeout:.0f} s"), False
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return Check(False, describe_error(exc)), False
        return Check(True, "answered", (time.perf_counter() - started) * 1000), False

    async def providers(self, force: bool = False) -> tuple[dict[str, Check], bool]:
        """Each provider's check and whether the gateway was unreachable (cached for ``ttl``)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not force and self._cache and time.monotonic() - self._cache[0] < self.ttl:
                return self._cache[1], self._cache[2]
            router = self.manager.router
            configured = router.configured_providers()
            outcomes = await asyncio.gather(*(self._probe(p) for p in configured))
            checks = {name: Check(False, f"not configured: {router.resolutions[name].reason}")
                      for name in PROVIDERS}
            gateway_down = False
            for name, (check, down) in zip(configured, outcomes, strict=True):
                checks[name] = check
                gateway_down = gateway_down or down
            self._cache = (time.monotonic(), checks, gateway_down)
            return checks, gateway_down

    async def stores(self) -> dict[str, Check]:
        settings = self.manager.settings

        async def run(name: str, make: Callable[[Any], StoreProbe | None]) -> tuple[str, Check]:
            try:
                probe = make(settings)
                if probe is None:
                    return name, Check(False, "not configured")
                ok, reason = await asyncio.wait_for(probe(), self.probe_timeout)
                return name, Check(ok, reason)
            except Exception as exc:  # noqa: BLE001
                return name, Check(False, describe_error(exc))

        return dict(await asyncio.gather(*(run(n, m) for n, m in _store_probes.items())))

    async def report(self, role_chains: Mapping[str, tuple[str, ...]], force: bool = False) -> dict[str, Any]:
        (checks, gateway_down), stores = await asyncio.gather(self.providers(force), self.stores())
        configured = [n for n in PROVIDERS if self.manager.router.resolutions[n].configured]
        roles = {}
        for role, chain in role_chains.items():
            names = [entry.partition("/")[0] for entry in chain]
            healthy = [n for n in names if checks[n].ok]
            roles[role] = {"healthy": bool(healthy), "providers": names, "healthy_providers": healthy}
        if gateway_down or not configured or not all(r["healthy"] for r in roles.values()):
            status = "down"
        elif all(checks[n].ok for n in configured):
            status = "operational"
        else:
            status = "degraded"
        return {
            "status": status,
            "portkey_providers": {n: c.ok for n, c in checks.items()},
            "vector_databases": {n: c.ok for n, c in stores.items()},
            "details": {
                "gateway": {"url": self.manager.gateway_url, "reachable": not gateway_down},
                "providers": {n: c.as_dict() for n, c in checks.items()},
                "vector_databases": {n: c.as_dict() for n, c in stores.items()},
                "roles": roles,
                "checked_at": datetime.now(UTC).isoformat(),
            },
        }


_checkers: weakref.WeakKeyDictionary[Any, HealthChecker] = weakref.WeakKeyDictionary()


def health_checker(manager: Any) -> HealthChecker:
    """One checker per manager, so both factories share probe results."""
    checker = _checkers.get(manager)
    if checker is None:
        checker = _checkers[manager] = HealthChecker(manager)
    return checker


def _redis_probe(settings: Any) -> StoreProbe | None:
    if not settings.redis_url:
        return None

    async def probe() -> tuple[bool, str]:
        import redis.asyncio as redis

        client = redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
            return True, "PING answered"
        finally:
            await client.aclose()

    return probe


register_store_probe("redis", _redis_probe)
register_store_probe("qdrant", qdrant_probe)
register_store_probe("weaviate", weaviate_probe)
register_store_probe("milvus", milvus_probe)
