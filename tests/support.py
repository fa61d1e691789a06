"""Helpers shared by test modules (conftest files are not importable as modules)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_service(what: str, reason: str) -> None:
    """A missing service fails the test under CI=true and skips it loudly elsewhere."""
    message = f"{what} unavailable ({reason}); start it (see DESIGN.md section 5) to run this test"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    """Poll ``probe`` until it is true; fails naming ``what`` after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while not await probe():
                await asyncio.sleep(0.02)  # polling a condition (the simulators' control API, a file...)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {within} s") from None


async def in_flight(simulators: Any, provider: str) -> int:
    """How many requests ``provider``'s simulator is serving now."""
    return int((await simulators.control.astats(provider))["in_flight"])


async def in_flight_is(simulators: Any, provider: str, expected: int, *, at_least: bool = False) -> bool:
    """Whether ``provider``'s simulator is serving ``expected`` requests now (or more, with ``at_least``)."""
    count = await in_flight(simulators, provider)
    return count >= expected if at_least else count == expected
