"""The health check of the spec: providers probed for real through the gateway, stores pinged.

    {"status": "operational" | "degraded" | "down",
     "portkey_providers": {provider: bool}, "vector_databases": {store: bool}, "details": {...}}

operational: every configured provider answered and every configured store is up. degraded: some
provider failed (every role still has a healthy one) or a configured store is down. down: the
gateway is unreachable, or some role has no healthy provider left. ``details.reasons`` says why the
status is not operational, one line per cause.
Probe results are kept for ``ttl`` seconds so health can be polled without costing a call each time.
Nothing in here raises: every failure becomes a false with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.errors import GatewayConnectionError
from app.core.manager import PortkeyManager
from app.core.providers import PROVIDERS
from app.core.redaction import describe_error
from app.vectors.probes import StoreProbe

PROBE_MESSAGES = [{"role": "user", "content": "ping"}]


@dataclass(frozen=True, slots=True)
class Check:
    """One probe's outcome: healthy or not, why, and how long a provider took to answer."""

    ok: bool
    reason: str
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The check as JSON (latency rounded to 0.1 ms, left out when unknown)."""
        out: dict[str, Any] = {"ok": self.ok, "reason": self.reason}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 1)
        return out


class HealthChecker:
    """Probes providers through ``manager`` and the stores of ``store_probes`` (name -> probe, or None
    for a store that is not configured); one per runtime, so every factory shares its probe results."""

    def __init__(self, manager: PortkeyManager, store_probes: Mapping[str, StoreProbe | None] | None = None,
                 ttl: float = 15.0, probe_timeout: float = 10.0) -> None:
        self.manager = manager
        self.store_probes = dict(store_probes or {})
        self.ttl = ttl
        self.probe_timeout = probe_timeout
        self._cache: tuple[float, dict[str, Check], bool] | None = None
        self._lock: asyncio.Lock | None = None

    async def _probe(self, provider: str) -> tuple[Check, bool]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.probe_timeout):
                await self.manager.acreate_completion(provider=provider, messages=PROBE_MESSAGES, fallbacks=[],
                                                      max_tokens=1, metadata={"purpose": "health"}, cache=False)
        except GatewayConnectionError as exc:
            return Check(False, str(exc)), True
        except TimeoutError:
            return Check(False, f"no answer within {self.probe_timeout:.0f} s"), False
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return Check(False, describe_error(exc)), False
        return Check(True, "answered", (time.perf_counter() - started) * 1000), False

    async def providers(self, force: bool = False) -> tuple[dict[str, Check], bool]:
        """Each provider's check and whether the gateway was unreachable (cached for ``ttl``).

        Concurrent callers share one probe, forced or not: those that waited for it to finish take its
        result (so a burst of forced checks costs one completion per provider, not one per check).
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        arrived = time.monotonic()
        async with self._lock:
            if self._cache and (self._cache[0] >= arrived or (not force and arrived - self._cache[0] < self.ttl)):
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
        """Each store's check (not cached: a store probe is a local ping, not a paid call)."""

        async def run(name: str, probe: StoreProbe | None) -> tuple[str, Check]:
            if probe is None:
                return name, Check(False, "not configured")
            try:
                async with asyncio.timeout(self.probe_timeout):
                    ok, reason = await probe()
                return name, Check(ok, reason)
            except Exception as exc:  # noqa: BLE001
                return name, Check(False, describe_error(exc))

        return dict(await asyncio.gather(*(run(n, p) for n, p in self.store_probes.items())))

    async def circuit_states(self, role_chains: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
        """The circuit of every target the roles and providers' defaults use (empty without breakers)."""
        circuits = getattr(self.manager, "circuits", None)  # the manager's breakers, whose states the report shows
        if circuits is None:
            return {}
        router = self.manager.router
        labels: list[str] = []
        for entry in [*(e for chain in role_chains.values() for e in chain), *router.configured_providers()]:
            with contextlib.suppress(Exception):  # an unconfigured or unknown entry has no circuit to show
                labels.extend(t.label for t in router.build(router.requested(entry, None, [])).targets)
        try:
            return await circuits.snapshot(labels)
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return {"error": describe_error(exc)}

    async def report(self, role_chains: Mapping[str, tuple[str, ...]], force: bool = False) -> dict[str, Any]:
        """The health report: overall status, each provider, each role chain and each store.

        ``operational`` when every configured provider answers and every configured store is up, ``down``
        when the gateway is unreachable, nothing is configured or a role has no healthy provider, else
        ``degraded``; ``details.reasons`` lists the causes. ``force`` skips the cache.
        """
        (checks, gateway_down), stores, circuits = await asyncio.gather(
            self.providers(force), self.stores(), self.circuit_states(role_chains))
        configured = [n for n in PROVIDERS if self.manager.router.resolutions[n].configured]
        roles: dict[str, dict[str, Any]] = {}
        for role, chain in role_chains.items():
            names = [entry.partition("/")[0] for entry in chain]
            healthy = [n for n in names if checks[n].ok]
            roles[role] = {"healthy": bool(healthy), "providers": names, "healthy_providers": healthy}
        down = [f"the gateway at {self.manager.gateway_url} is unreachable"] if gateway_down else []
        if not configured:
            down.append("no provider is configured (set a provider key, see sophia check)")
        elif not gateway_down:
            down += [f"role {role} has no healthy provider ({', '.join(r['providers'])})"
                     for role, r in roles.items() if not r["healthy"]]
        degraded = [f"{n}: {checks[n].reason}" for n in configured if not checks[n].ok]
        degraded += [f"store {n}: {stores[n].reason}" for n, probe in self.store_probes.items()
                     if probe is not None and not stores[n].ok]
        status = "down" if down else "degraded" if degraded else "operational"
        return {
            "status": status,
            "portkey_providers": {n: c.ok for n, c in checks.items()},
            "vector_databases": {n: c.ok for n, c in stores.items()},
            "details": {
                "gateway": {"url": self.manager.gateway_url, "reachable": not gateway_down},
                "providers": {n: c.as_dict() for n, c in checks.items()},
                "vector_databases": {n: c.as_dict() for n, c in stores.items()},
                "roles": roles,
                "circuits": circuits,
                "reasons": down + degraded,
                "checked_at": datetime.now(UTC).isoformat(),
            },
        }
