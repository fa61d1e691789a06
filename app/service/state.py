"""What the lifespan builds and every request uses; a route gets it through a ``StateDep`` parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from app.analytics import AnalyticsStore
from app.artemis.portkey_unified_factory import ArtemisFactory
from app.core.manager import PortkeyManager
from app.documents.store import DocumentStore
from app.service.config import ServiceConfig
from app.service.security import Authenticator, RateLimiter
from app.sophia.portkey_unified_factory import SophiaFactory
from app.telemetry.recent_errors import RecentErrors
from app.vectors.base import VectorStore


@dataclass
class ServiceState:
    """The parts of a running service: its config, manager, factories, documents, analytics and guards."""

    config: ServiceConfig
    manager: PortkeyManager
    artemis: ArtemisFactory
    sophia: SophiaFactory
    documents: DocumentStore
    analytics: AnalyticsStore
    auth: Authenticator
    limiter: RateLimiter
    held_store: VectorStore | None = None
    """The Qdrant local-mode store whose folder this service holds (None with ``QDRANT_URL``)."""
    recent_errors: RecentErrors = field(default_factory=RecentErrors)
    last_health: dict[str, Any] | None = None
    last_forced: float = float("-inf")
    """``time.monotonic()`` of the last ``/health?force=true`` that probed."""
    started_at: float = 0.0
    background: list[Any] = field(default_factory=list)
    operations: Any = None
    """``app.service.operations.Operations``: alerts, anomalies, key ages (set by the lifespan)."""


def _get_state(request: Request) -> ServiceState:
    return request.app.state.sophia


StateDep = Annotated[ServiceState, Depends(_get_state)]
