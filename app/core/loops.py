"""Handing work to an event loop from wherever a call finished (its own loop, or another thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` now when already on ``loop``, else schedule it there thread-safely.

    Observers run where calls finish: on the service's loop, or on the sync bridge's thread.
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        fn(*args)
    else:
        loop.call_soon_threadsafe(fn, *args)
