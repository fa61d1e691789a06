"""Reloading the routing policy: an atomic swap, a bad file keeps the old policy, the watch sees changes."""

from __future__ import annotations

import asyncio
import contextlib
import os

from app.core.settings import load_settings
from app.routing import PolicyHolder
from app.routing.holder import watch

ONE = "routes:\n  r:\n    target: groq\n"
TWO = "routes:\n  r:\n    target: openai\n"


def holder_on(tmp_path, text=ONE):
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return PolicyHolder(load_settings(_env_file=None, sophia_routing_file=str(path))), path


def test_reload_swaps_in_a_new_policy_and_keeps_the_old_on_a_bad_file(tmp_path):
    holder, path = holder_on(tmp_path)
    first = holder.current
    path.write_text(TWO)
    assert holder.reload() and holder.current is not first
    assert holder.current.route("r").strategy.targets == ["openai"] and holder.last_error is None
    assert first.route("r").strategy.targets == ["groq"]  # a request planning on the old one is unaffected
    path.write_text("routes:\n  r:\n    target: nope\n")
    kept = holder.current
    assert not holder.reload() and holder.current is kept
    assert "3:" in holder.last_error and "unknown provider" in holder.last_error
    path.write_text("")  # caught mid-rewrite: an empty file never means "no routes"
    assert not holder.reload() and holder.current is kept and "is empty" in holder.last_error
    assert holder.summary()["routes"]["r"]["targets"] == ["openai"]


async def test_the_watch_reloads_when_the_file_changes(tmp_path):
    holder, path = holder_on(tmp_path)
    task = asyncio.create_task(watch(holder, 0.02))
    try:
        path.write_text(TWO + "\n# a change\n")
        os.utime(path, (1, 1))  # a different stamp even within the file system's time resolution
        expected = PolicyHolder(holder.settings).current.version
        assert await asyncio.to_thread(holder.wait_for, expected, 10)
        assert holder.current.route("r").strategy.targets == ["openai"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
