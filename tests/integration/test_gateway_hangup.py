"""A caller that hangs up ends its call at the provider too: the gateway (with our preload) aborts the
upstream request in flight and starts no retry or fallback for a client that has gone."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import eventually, in_flight_is

ASK = [{"role": "user", "content": "a question nobody will wait for"}]


async def test_a_caller_that_hangs_up_ends_the_upstream_call_and_starts_no_fallback(make_manager, simulators):
    control = simulators.control
    await control.areset_stats()
    await control.aset_fault("mistral", mode="stall_headers")
    # The gateway's own timeout would end the stalled attempt only after 30 s, then fall back to groq.
    manager = make_manager(request_timeout=30)
    call = asyncio.create_task(manager.acreate_completion(provider="mistral", fallbacks=["groq"], messages=ASK,
                                                          cache=False))
    await eventually(lambda: in_flight_is(simulators, "mistral", 1), "the request reached mistral")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await eventually(lambda: in_flight_is(simulators, "mistral", 0),
                     "mistral saw its request end (before the gateway's own 30 s timeout)")
    # The gateway would start the fallback within milliseconds of the aborted attempt; give it a second.
    await asyncio.sleep(1.0)  # an observation window for something that must not happen, not a wait for it
    stats = await control.astats()
    assert stats["groq"]["total"] == 0 and stats["mistral"]["total"] == 1
    await manager.aclose()
