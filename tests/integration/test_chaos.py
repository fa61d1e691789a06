"""Chaos: every simulator fault on a role chain's primary, plain and streamed, against the real gateway;
the gateway killed and restarted; Redis killed and restarted; two instances sharing breakers and limits.

Each cell asserts what the README's Reliability section promises: answered by a fallback (or the
typed stream interruption once content was delivered), a typed error when the whole chain is faulted,
never an untyped error, and within the call's stated bound. REQUEST_TIMEOUT=1 and no gateway retries
keep the suite fast: each attempt may take 1 s to its headers and 0.5 s to its first content, so a
three-target call is bounded by 3 * 1.5 + 1 = 5.5 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import pytest

from app.core.deadlines import Deadlines
from app.core.errors import (
    AllProvidersFailedError,
    GatewayConnectionError,
    GatewayUnavailableError,
    RateLimitExceededError,
    SophiaError,
    StreamInterruptedError,
)
from app.gateway import GatewayProcess
from app.simulators import Fault
from tests.support import eventually, in_flight_is

pytestmark = pytest.mark.chaos

HELLO = [{"role": "user", "content": "Hello"}]
CHAIN = ["anthropic", "groq"]
TIMEOUT = 1.0
BOUND = Deadlines.from_timeout(TIMEOUT).call_bound(3, 0)

FAULTS = {
    "500": Fault(status=500), "503": Fault(status=503), "429": Fault(status=429, retry_after=1),
    "400": Fault(status=400), "slow headers": Fault(latency_ms=3000), "refused": Fault(mode="refuse"),
    "dropped": Fault(mode="drop"), "malformed": Fault(mode="malformed"),
    "cut before first chunk": Fault(mode="cut_before_first_chunk"),
    "cut after first chunk": Fault(mode="cut_after_first_chunk"),
    "stall before headers": Fault(mode="stall_headers"),
    "stall before content": Fault(mode="stall_before_content"),
    "stall mid-body": Fault(mode="stall_mid_body"),
}
# Streams that delivered content before the fault end with the typed interruption (never spliced).
INTERRUPTED_STREAMS = {"cut after first chunk", "stall mid-body"}


async def run(manager: Any, stream: bool, **kwargs: Any) -> tuple[str | None, BaseException | None, float]:
    started = time.perf_counter()
    try:
        result = await manager.acreate_completion(provider="openai", messages=HELLO, stream=stream, **kwargs)
        if stream:
            async for _ in result:
                pass
        return result.routing.provider, None, time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001 - the cell checks what was raised
        return None, exc, time.perf_counter() - started


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_faulted_primary_is_answered_by_a_fallback_within_the_bound(make_manager, simulators, fault, stream):
    await simulators.control.aset_fault("openai", FAULTS[fault])
    manager = make_manager(request_timeout=TIMEOUT, circuit_breaker=False)
    served, error, elapsed = await run(manager, stream, fallbacks=CHAIN)
    assert elapsed < BOUND, f"{fault}: {elapsed:.1f} s, over the bound of {BOUND} s"
    if stream and fault in INTERRUPTED_STREAMS:
        assert isinstance(error, StreamInterruptedError) and error.partial_text
    else:
        assert error is None and served == "anthropic", f"{fault}: {error!r}"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", ["503", "refused", "stall before content", "stall before headers"])
async def test_a_wholly_faulted_chain_is_a_typed_error_within_the_bound(make_manager, simulators, fault, stream):
    for provider in ("openai", *CHAIN):
        await simulators.control.aset_fault(provider, FAULTS[fault])
    manager = make_manager(request_timeout=TIMEOUT, circuit_breaker=False)
    _, error, elapsed = await run(manager, stream, fallbacks=CHAIN)
    assert isinstance(error, AllProvidersFailedError), repr(error)
    assert [a.provider for a in error.attempts][-1] == "groq" and elapsed < BOUND


async def test_the_gateway_killed_mid_run_is_a_typed_503_then_recovers_on_restart(make_manager, simulators,
                                                                                   artifacts_dir):
    gateway = GatewayProcess(log_path=artifacts_dir / "chaos-gateway.log").start()
    try:
        manager = make_manager(portkey_base_url=gateway.url, request_timeout=TIMEOUT, cache_ttl=0)
        assert (await run(manager, False))[0] == "openai"
        # The provider answers slowly (within the deadlines), so the eight calls are in flight at it, through
        # the gateway, when the gateway dies.
        await simulators.control.aset_fault("openai", Fault(latency_ms=700))
        calls = [asyncio.ensure_future(run(manager, stream)) for stream in (False, True) * 4]
        await eventually(lambda: in_flight_is(simulators, "openai", 8, at_least=True), "eight calls at openai")
        os.kill(gateway.pid, signal.SIGKILL)  # killed, not stopped: SIGTERM would let it finish the calls
        gateway.stop()  # reaps it
        outcomes = await asyncio.gather(*calls)
        await simulators.control.aclear_faults("openai")
        for served, error, elapsed in outcomes:  # served before the kill, or a typed error: never a hang
            assert served or isinstance(error, SophiaError), repr(error)
            assert elapsed < BOUND
        assert all(isinstance(error, GatewayUnavailableError) for _, error, _ in outcomes), outcomes
        for stream in (False, True):
            _, error, _ = await run(manager, stream)
            assert isinstance(error, GatewayUnavailableError)
        gateway = GatewayProcess(port=gateway.port, log_path=artifacts_dir / "chaos-gateway-2.log").start()
        assert [(await run(manager, stream))[0] for stream in (False, True)] == ["openai", "openai"]
    finally:
        gateway.stop()


async def test_redis_killed_mid_run_loses_nothing_and_limits_hold_after_it_returns(make_manager, simulators,
                                                                                   redis_server):
    limits = {"*": {"requests_per_minute": 20}}
    namespace = f"chaos-{uuid.uuid4().hex[:8]}"
    managers = [make_manager(redis_url=redis_server.url, redis_namespace=namespace, role_limits=limits)
                for _ in range(2)]
    role = {"domain": "sophia", "role": "market_analyst"}

    async def burst(size: int) -> tuple[int, int, list[BaseException]]:
        outcomes = await asyncio.gather(*(run(managers[i % 2], False, metadata=role, cache=False)
                                          for i in range(size)))
        served = sum(1 for s, _, _ in outcomes if s)
        limited = sum(1 for _, e, _ in outcomes if isinstance(e, RateLimitExceededError))
        return served, limited, [e for _, e, _ in outcomes if e and not isinstance(e, RateLimitExceededError)]

    assert (await burst(30))[:2] == (20, 10)
    redis_server.stop()
    try:
        served, limited, others = await burst(10)
        assert (served, others) == (10, [])  # Redis down: limits fail open, nothing is lost
    finally:
        redis_server.start()
    deadline = time.monotonic() + 5
    while any(m.limits.outage.paused for m in managers):  # the documented 1 s pause after a real failure
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    # Redis restarted empty: every stale pooled connection reconnects, none opens the gate.
    for expected in ((20, 40), (0, 60)):
        served, limited, others = await burst(60)
        assert (served, limited) == expected and others == []


async def test_two_instances_share_circuits_and_exactly_one_probes(make_manager, simulators,
                                                                   redis_server):
    namespace = f"chaos-{uuid.uuid4().hex[:8]}"
    settings = {"redis_url": redis_server.url, "redis_namespace": namespace, "circuit_min_requests": 4,
                "circuit_cooldown": 0.5, "request_timeout": TIMEOUT, "cache_ttl": 0}
    first, second = make_manager(**settings), make_manager(**settings)
    await simulators.control.aset_fault("openai", Fault(status=503))
    for _ in range(4):  # four failed attempts on the primary, seen by the first instance only
        assert (await run(first, False, fallbacks=CHAIN))[0] == "anthropic"
    routing = (await second.acreate_completion(provider="openai", messages=HELLO, fallbacks=CHAIN)).routing
    assert routing.circuit_open == ["openai/gpt-4o"] and routing.attempts[0].provider == "anthropic"
    chain = first.chain("openai", fallbacks=CHAIN)
    deadline = time.monotonic() + 5
    while (await first.circuits.snapshot(["openai/gpt-4o"]))["openai/gpt-4o"]["state"] != "half_open":
        assert time.monotonic() < deadline, "the cooldown did not end"
        await asyncio.sleep(0.05)  # waiting out the 0.5 s cooldown itself, not synchronising
    admissions = await asyncio.gather(*(m.circuits.admit(chain) for m in (first, second) * 3))
    assert sum(len(a.probes) for a in admissions) == 1
    await simulators.control.aclear_faults("openai")
    prober = next(m for m, a in zip((first, second) * 3, admissions, strict=True) if a.probes)
    await prober.circuits.settle([], next(a.probes for a in admissions if a.probes))  # released unused
    answer = await second.acreate_completion(provider="openai", messages=HELLO, fallbacks=CHAIN)
    assert answer.routing.provider == "openai"  # the probe succeeded: the circuit closed for both
    assert (await first.circuits.snapshot(["openai/gpt-4o"]))["openai/gpt-4o"]["state"] == "closed"
    for manager in (first, second):
        await manager.aclose()


def test_the_gateway_is_never_the_only_thing_between_a_call_and_a_hang():
    # The bound the suite checks against is the one the README states (for REQUEST_TIMEOUT=1).
    assert BOUND == 3 * (1 + 0.5) + 1
    assert issubclass(GatewayUnavailableError, GatewayConnectionError)
