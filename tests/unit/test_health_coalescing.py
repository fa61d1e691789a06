"""Forced health checks that arrive together share one probe per provider."""

from __future__ import annotations

import asyncio

from app.core.manager import PortkeyManager
from app.core.settings import load_settings
from app.health import HealthChecker
from tests.unit.fake_gateway import URL, FakeGateway
from tests.unit.test_failover import HOSTS, KEYS


async def test_concurrent_forced_checks_cost_one_probe_per_provider():
    gateway = FakeGateway()
    manager = PortkeyManager(load_settings(_env_file=None, portkey_base_url=URL, **KEYS, **HOSTS),
                             transport=gateway.transport())
    health = HealthChecker(manager)
    results = await asyncio.gather(*(health.providers(force=True) for _ in range(10)))
    assert len(gateway.requests) == 3  # openai, anthropic, deepseek: once each, not 30 times
    assert all(checks["openai"].ok for checks, _ in results)
    await health.providers(force=True)  # a forced check arriving after that probe probes again
    assert len(gateway.requests) == 6
