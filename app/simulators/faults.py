"""Run-time switchable provider faults.

Scope: a fault is consumed by the provider's POST endpoints (chat completions, messages,
embeddings). ``GET /models`` and unknown paths are never faulted, so tests can always probe
whether a provider is alive, except under ``mode="refuse"`` which closes the whole port.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

STALL_LIMIT = 300.0
"""Seconds a stalled response stays silent at most before the simulator hangs up."""

FaultMode = Literal["refuse", "drop", "malformed", "cut_before_first_chunk", "cut_after_first_chunk",
                    "stall_headers", "stall_before_content", "stall_mid_body"]
FAULT_MODES: tuple[str, ...] = FaultMode.__args__  # type: ignore[attr-defined]


class Fault(BaseModel):
    """What the next request(s) to one provider should suffer.

    ``status`` answers with that HTTP status in the provider's own error shape; ``mode``
    breaks the transport instead. They exclude each other; ``latency_ms`` combines with
    either, or stands alone as a pure slowdown.

    For non-stream requests the ``cut_*`` modes cut the JSON body: ``cut_before_first_chunk``
    sends the 200 headers (with Content-Length) and no body byte, ``cut_after_first_chunk``
    sends the first half of the body.

    The ``stall_*`` modes keep the connection open and go silent (until the client leaves, or
    ``STALL_LIMIT`` seconds): ``stall_headers`` before any header; ``stall_before_content`` after
    the 200 headers (a stream also sends its role preamble: OpenAI's role chunk, Anthropic's
    ``message_start``/``content_block_start``/``ping``); ``stall_mid_body`` after half the body (a
    stream: after its first content chunk).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    mode: FaultMode | None = None
    times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _coherent(self) -> Fault:
        if self.status is not None and self.mode is not None:
            raise ValueError("status and mode are mutually exclusive")
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after only makes sense with an error status (e.g. 429)")
        if self.mode == "refuse" and (self.times is not None or self.latency_ms is not None):
            # A closed port never sees the refused attempts, so it cannot count them.
            raise ValueError("mode='refuse' lasts until cleared; times/latency_ms are not supported")
        return self


class FaultSlot:
    """The active fault of one provider, with its remaining use count."""

    __slots__ = ("applied", "fault", "remaining")

    def __init__(self) -> None:
        self.fault: Fault | None = None
        self.remaining: int | None = None
        self.applied = 0

    def set(self, fault: Fault | None) -> None:
        """Make ``fault`` the active one (None: no fault), with its ``times`` as the remaining uses."""
        self.fault = fault
        self.remaining = fault.times if fault is not None else None

    def clear(self) -> None:
        """Remove the active fault."""
        self.set(None)

    def take(self) -> Fault | None:
        """Return the fault for the request being served, consuming one use of it."""
        fault = self.fault
        if fault is None:
            return None
        self.applied += 1
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.fault = None
                self.remaining = None
        return fault

    def snapshot(self) -> dict | None:
        """The active fault as JSON with its remaining uses; None when there is none."""
        if self.fault is None:
            return None
        return {**self.fault.model_dump(), "remaining": self.remaining}
