"""What every call reports once it is over (and feedback on it later), for telemetry, health and analytics.

Observers are plain callables; one that raises is logged and skipped, never the caller's problem.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.core.errors import InvalidRequestError
from app.core.results import RoutingInfo

log = logging.getLogger("app.observation")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call, successful or not: what observers receive."""

    kind: str
    """``chat``, ``chat_stream`` or ``embedding``."""
    trace_id: str
    chain: tuple[str, ...]
    """The targets the call could use, as ``provider/model``."""
    latency_ms: float
    routing: RoutingInfo | None = None
    error: BaseException | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    route: str | None = None
    """The routing file's route the call asked for, if any."""
    variant: str | None = None
    """The loadbalance variant it went to (served by, or last tried), if any."""
    complexity: str | None = None
    """``simple`` or ``complex`` when a policy classified the request."""


MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """How good a call's answer was, reported after the fact: ``score`` from 0 (bad) to 1 (good)."""

    trace_id: str
    score: float
    comment: str | None = None
    ts: float = field(default_factory=time.time)

    @classmethod
    def checked(cls, trace_id: object, score: object, comment: object = None) -> FeedbackRecord:
        """A record of valid input; raises ``InvalidRequestError`` naming what is wrong."""
        if not isinstance(trace_id, str) or not trace_id.strip() or len(trace_id) > 64:
            raise InvalidRequestError("trace_id must be the trace id of a call (routing.trace_id, at most 64 chars)")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
                or not 0 <= score <= 1:
            raise InvalidRequestError(f"score must be a number from 0 (bad) to 1 (good), got {score!r}")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise InvalidRequestError(f"comment must be a string of at most {MAX_COMMENT} characters")
        return cls(trace_id.strip(), float(score), comment or None)


R = TypeVar("R")


class Observers(Generic[R]):
    """The callables told about every record (a finished call, a feedback); one that raises is logged
    and skipped."""

    def __init__(self) -> None:
        self._observers: list[Callable[[R], None]] = []

    def add(self, observer: Callable[[R], None]) -> None:
        """Call ``observer`` with every record from now on."""
        self._observers.append(observer)

    def remove(self, observer: Callable[[R], None]) -> None:
        """Stop calling ``observer``; raises ValueError if it was not added."""
        self._observers.remove(observer)

    def notify(self, record: R) -> None:
        """Hand ``record`` to every observer in the order they were added."""
        for observer in self._observers:
            try:
                observer(record)
            except Exception:  # an observer must never break a request
                log.exception("observer %r failed", observer)
