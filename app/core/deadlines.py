"""Deadlines per attempt, and the bound they put on a whole call.

A provider that answers 200 and then goes silent (half a JSON body, or a stream that sent its role
chunk and nothing more) must not hold a request: once the gateway has passed the headers on it
cannot help, so each attempt (one upstream call) gets three deadlines of its own:

- ``headers``: until the provider's response headers. The gateway enforces it (each target's
  ``request_timeout``; a miss is a 408 and the gateway falls back by itself).
- ``first_content``: from the headers to the first content. For a plain answer that is its whole
  body (our gateway preload aborts a body not complete in time; see ``gateway/loopback-preload.cjs``);
  for a stream, the first chunk that carries more than the role (this module's ``StreamPace``).
- ``idle``: the longest silence between two events of a stream once content flows.

A miss before anything reached the caller goes on with the rest of the chain (the failover loop);
after content, the stream raises ``StreamInterruptedError``. Each target can then take at most
``(MAX_RETRIES + 1) * headers + (2**MAX_RETRIES - 1) + first_content`` seconds before its answer (or a
stream's first content) is in hand: every gateway try may use up to ``headers`` (a slow 5xx), its
back-offs are 1, 2, 4 s, and the last try's body or first chunk may take ``first_content``. A call is
bounded by that per target of its chain plus a slack (``ROUND_SLACK``); the loop enforces the bound as the
call's deadline (``GatewayTimeoutError`` when our own hop is what ran out of time).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

ROUND_SLACK = 5.0
"""At most this many seconds (and at most ``headers``) are added to a call's bound for our own hops:
connecting, the gateway's own work, a few rounds."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """One attempt's deadlines, in seconds (see the module docstring)."""

    headers: float
    first_content: float
    idle: float

    @classmethod
    def from_timeout(cls, request_timeout: float) -> Deadlines:
        """The defaults: ``headers`` is REQUEST_TIMEOUT, ``first_content`` and ``idle`` half of it."""
        return cls(headers=request_timeout, first_content=request_timeout / 2, idle=request_timeout / 2)

    def overridden(self, fields: Mapping[Any, float]) -> Deadlines:
        """These deadlines with some replaced (a role's override, e.g. ``{"first_content": 120}``)."""
        return replace(self, **dict(fields))

    def per_target(self, retries: int) -> float:
        """The most one target can take before its answer, or a stream's first content, is in hand."""
        return (retries + 1) * self.headers + (2**retries - 1) + self.first_content

    def call_bound(self, targets: int, retries: int) -> float:
        """The most a call over ``targets`` targets can take before its answer or first content."""
        return targets * self.per_target(retries) + min(ROUND_SLACK, self.headers)


def has_content(chunk: Any) -> bool:
    """True when a stream chunk carries more than the role: text, a tool call, reasoning, or a finish."""
    for choice in chunk.choices:
        if choice.finish_reason:
            return True
        delta = choice.delta.model_dump(exclude_none=True)
        delta.pop("role", None)
        if any(value not in ("", [], {}) for value in delta.values()):
            return True
    return False


class StreamPace:
    """How long a stream may stay silent next: until its first content (and the call's deadline)
    before any, then ``idle`` between events. Started when the stream's headers arrive."""

    def __init__(self, deadlines: Deadlines, call_expires_at: float) -> None:
        self.deadlines = deadlines
        self.content_due = min(time.monotonic() + deadlines.first_content, call_expires_at)
        self.call_expires_at = call_expires_at
        self.content_seen = False

    def wait(self) -> float:
        """Seconds to wait for the next event."""
        if self.content_seen:
            return self.deadlines.idle
        return max(0.0, min(self.deadlines.idle, self.content_due - time.monotonic()))

    def saw(self, chunk: Any) -> None:
        """Note a chunk that arrived."""
        if not self.content_seen and has_content(chunk):
            self.content_seen = True

    def missed(self) -> str:
        """Why the last wait ran out, for the attempt's record."""
        if self.content_seen:
            return f"stalled: silent for {self.deadlines.idle:g} s"
        if time.monotonic() >= self.content_due:
            if self.content_due >= self.call_expires_at:
                return "stalled: the call's deadline passed before any content"
            return f"stalled: no content within {self.deadlines.first_content:g} s"
        return f"stalled: silent for {self.deadlines.idle:g} s"
