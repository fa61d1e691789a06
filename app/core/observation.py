"""What every call reports once it is over, for telemetry, health and analytics to consume.

Observers are plain callables; one that raises is logged and skipped, never the caller's problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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


Observer = Callable[[CallRecord], None]


class Observers:
    """The callables told about every finished call; one that raises is logged and skipped."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> None:
        """Call ``observer`` with the record of every call from now on."""
        self._observers.append(observer)

    def remove(self, observer: Observer) -> None:
        """Stop calling ``observer``; raises ValueError if it was not added."""
        self._observers.remove(observer)

    def notify(self, record: CallRecord) -> None:
        """Hand ``record`` to every observer in the order they were added."""
        for observer in self._observers:
            try:
                observer(record)
            except Exception:  # an observer must never break a request
                log.exception("observer %r failed", observer)
