"""asyncio locks by key, one set per event loop.

An ``asyncio.Lock`` belongs to the loop that first waits on it, and our stores are used from more
than one loop (the sync bridge's, a test's, a service's), so each loop gets its own locks. Used to
serialise writes that must not interleave: one agent's memory adds, one document source's re-adds.
"""

from __future__ import annotations

import asyncio
import weakref


class KeyedLocks:
    """``locks(key)``: the asyncio lock of ``key`` on the running loop, created on first use."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    def __call__(self, key: str) -> asyncio.Lock:
        """The lock of ``key`` on the running loop."""
        return self._locks.setdefault(asyncio.get_running_loop(), {}).setdefault(key, asyncio.Lock())
