"""A cancellation that arrives just as a bounded step finishes must reach the caller.

On Python 3.11 ``asyncio.wait_for`` runs its work in a task of its own; when that task finishes in the
same loop iteration in which the caller is cancelled, ``wait_for`` returns the result and the
cancellation is lost (a cancelled workflow would go on calling providers). Document retrieval and the
health probes bound their steps with ``asyncio.timeout`` instead (memory too: its test is in
test_memory.py); each test here builds exactly that race: the work's result and the caller's
cancellation land together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.agents.grounding import DocumentGrounding
from app.health import HealthChecker


class Gate:
    """Work that signals when it is waiting, then finishes when the test opens the gate."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.waiting = asyncio.Event()
        self._gate: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def work(self, *_: Any, **__: Any) -> Any:
        self.waiting.set()
        return await self._gate

    def open(self) -> None:
        self._gate.set_result(self.result)


async def race(gate: Gate, caller: Callable[[], Awaitable[Any]]) -> None:
    """Run ``caller``, and once its work waits, finish the work and cancel the caller at the same time."""
    task = asyncio.create_task(caller())
    await gate.waiting.wait()
    gate.open()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # with wait_for on 3.11 this returned the work's result instead


async def test_document_retrieval_does_not_swallow_the_callers_cancellation():
    gate = Gate([])

    class Store:
        search = gate.work

    grounding = DocumentGrounding(Store(), top_k=4)  # type: ignore[arg-type]
    await race(gate, lambda: grounding.retrieve("what is the refund policy?"))


async def test_a_health_probe_does_not_swallow_the_callers_cancellation():
    gate = Gate(None)

    class Manager:
        acreate_completion = gate.work

    checker = HealthChecker(Manager())  # type: ignore[arg-type]
    await race(gate, lambda: checker._probe("openai"))


async def test_without_the_race_retrieval_still_returns_its_result():
    gate = Gate([])

    class Store:
        search = gate.work

    task = asyncio.create_task(DocumentGrounding(Store(), top_k=4).retrieve("refunds?"))  # type: ignore[arg-type]
    await gate.waiting.wait()
    gate.open()
    assert await task == []
