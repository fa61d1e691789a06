"""Circuit breakers: the state machine on a fake clock, and the failover loop using them (fake gateway)."""

from __future__ import annotations

import pytest

from app.core.manager import PortkeyManager
from app.core.results import Attempt
from app.core.settings import load_settings
from app.resilience import BreakerPolicy, CircuitBreakers, CircuitState
from app.resilience.breakers import verdict
from tests.unit.fake_gateway import URL, FakeGateway
from tests.unit.test_failover import CHAIN, HOSTS, KEYS, complete

POLICY = BreakerPolicy(window=60, min_requests=4, failure_rate=0.5, cooldown=30, max_cooldown=100, probe_lease=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def attempts(label: str, *outcomes: int | str) -> list[Attempt]:
    provider, model = label.split("/", 1)
    return [Attempt(provider=provider, model=model, status=o) if isinstance(o, int)
            else Attempt(provider=provider, model=model, error=o) for o in outcomes]


def manager_with(breakers: CircuitBreakers, gateway: FakeGateway) -> PortkeyManager:
    settings = load_settings(_env_file=None, portkey_base_url=URL, max_retries=0, **KEYS, **HOSTS)
    return PortkeyManager(settings, transport=gateway.transport(), circuits=breakers)


@pytest.mark.parametrize(("attempt", "expected"), [
    (Attempt(provider="p", model="m", status=200), True),
    (Attempt(provider="p", model="m", status=503), False),
    (Attempt(provider="p", model="m", status=429), False),
    (Attempt(provider="p", model="m", status=401), False),
    (Attempt(provider="p", model="m", error="connection refused"), False),
    (Attempt(provider="p", model="m", status=200, error="stalled"), False),
    (Attempt(provider="p", model="m", status=400), None),
    (Attempt(provider="p", model="m", status=422), None),
])
def test_what_counts_as_a_failure_is_decided_by_status(attempt, expected):
    assert verdict(attempt) is expected


async def states(breakers: CircuitBreakers, *labels: str) -> list[str]:
    snapshot = await breakers.snapshot(labels)
    return [snapshot[label]["state"] for label in labels]


async def test_a_circuit_opens_on_the_failure_rate_once_the_window_holds_enough_attempts():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    await breakers.settle(attempts("openai/gpt-4o", 503, 503, 503), [])
    assert await states(breakers, "openai/gpt-4o") == ["closed"]  # 3 attempts: below the minimum of 4
    await breakers.settle(attempts("openai/gpt-4o", 200), [])
    assert await states(breakers, "openai/gpt-4o") == ["open"]  # 3 of 4 failed


async def test_the_window_slides_and_requests_faults_count_for_nothing():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    await breakers.settle(attempts("openai/gpt-4o", 503, 503, 503), [])
    clock.now += 61  # those failures slide out of the 60 s window
    await breakers.settle(attempts("openai/gpt-4o", 200, 200, 503, 400, 400, 400), [])
    assert (await breakers.snapshot(["openai/gpt-4o"]))["openai/gpt-4o"] == {
        "state": "closed", "attempts": 3, "failures": 1}


async def test_open_targets_go_last_never_away_and_all_open_are_tried_in_order():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    manager = manager_with(breakers, FakeGateway())
    chain = manager.chain("openai/gpt-4o", fallbacks=CHAIN)
    await breakers.settle(attempts("openai/gpt-4o", 503, 503, 503, 503), [])
    admission = await breakers.admit(chain)
    assert [t.label for t in admission.chain.targets] == [*CHAIN, "openai/gpt-4o"]
    assert admission.deferred == ("openai/gpt-4o",)
    for label in CHAIN:
        await breakers.settle(attempts(label, "timeout", "timeout", "timeout", "timeout"), [])
    everything = await breakers.admit(chain)
    assert everything.chain.targets == chain.targets and len(everything.deferred) == 3


async def test_after_the_cooldown_exactly_one_call_probes_and_its_verdict_decides():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    manager = manager_with(breakers, FakeGateway())
    chain = manager.chain("openai/gpt-4o", fallbacks=CHAIN)
    await breakers.settle(attempts("openai/gpt-4o", 503, 503, 503, 503), [])
    clock.now += 31
    first, second = await breakers.admit(chain), await breakers.admit(chain)
    assert first.probes == ("openai/gpt-4o",) and first.chain.targets == chain.targets
    assert second.probes == () and second.deferred == ("openai/gpt-4o",)  # the probe is taken
    await breakers.settle(attempts("openai/gpt-4o", 503), first.probes)
    assert await states(breakers, "openai/gpt-4o") == ["open"]
    clock.now += 31
    assert await states(breakers, "openai/gpt-4o") == ["open"]  # a failed probe doubles the cooldown: 60 s
    clock.now += 30
    probe = await breakers.admit(chain)
    await breakers.settle(attempts("openai/gpt-4o", 200), probe.probes)
    assert await states(breakers, "openai/gpt-4o") == ["closed"]


async def test_a_probe_not_attempted_is_released_for_the_next_call():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    chain = manager_with(breakers, FakeGateway()).chain("openai/gpt-4o", fallbacks=CHAIN)
    await breakers.settle(attempts("openai/gpt-4o", 503, 503, 503, 503), [])
    clock.now += 31
    probe = await breakers.admit(chain)
    await breakers.settle([], probe.probes)
    assert (await breakers.admit(chain)).probes == ("openai/gpt-4o",)


async def test_the_loop_feeds_every_attempt_and_then_tries_a_sick_primary_last():
    clock = Clock()
    breakers = CircuitBreakers(POLICY, clock=clock)
    gateway = FakeGateway(**{"gpt-4o": 503})
    manager = manager_with(breakers, gateway)
    for _ in range(4):
        assert (await complete(manager)).routing.provider == "anthropic"
    answer = await complete(manager)
    assert answer.routing.provider == "anthropic" and answer.routing.circuit_open == ["openai/gpt-4o"]
    assert answer.routing.served_index == 1 and answer.routing.fallback_used
    assert gateway.requests[-1]["models"] == ["claude-sonnet-4-5", "deepseek-chat", "gpt-4o"]
    assert [a.describe() for a in answer.routing.attempts] == ["anthropic/claude-sonnet-4-5: 200"]
    assert (await breakers.snapshot(["openai/gpt-4o"]))["openai/gpt-4o"]["state"] == CircuitState.OPEN.value


async def test_a_factory_built_on_a_manager_reports_the_managers_circuits():
    from app.artemis.portkey_unified_factory import ArtemisFactory

    breakers = CircuitBreakers(POLICY, clock=Clock())
    manager = manager_with(breakers, FakeGateway())
    circuits = await ArtemisFactory(manager).health.circuit_states({"artemis/code_reviewer": ("openai/gpt-4o",)})
    assert circuits["openai/gpt-4o"]["state"] == "closed"  # not {}: the health check reads the manager's breakers
