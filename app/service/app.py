"""The FastAPI application: ``create_app()`` wires routes; the lifespan owns everything that lives.

The lifespan is the service's composition root: it builds the runtime (``app.runtime.build_runtime``:
manager, cache, embedder, memory, document store, health checker, routing policy), both factories on
it, the analytics store and the limiter, hooks telemetry and analytics onto the manager's observers
(calls and feedback), runs background health probes, the routing file's watch (and reloads it on
SIGHUP) and the operations parts (alerts, anomalies, key reloads: ``app.service.operations``), and on
shutdown cancels the background tasks, flushes analytics and closes the gateway client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from app.analytics import AnalyticsStore
from app.artemis.portkey_unified_factory import ArtemisFactory
from app.core.pricing import load_price_tables
from app.core.settings import get_settings
from app.routing import reload_on_sighup, watch
from app.runtime import build_runtime
from app.service import (
    agent_routes,
    alerts_routes,
    document_routes,
    errors,
    openai_routes,
    ops_routes,
    routing_routes,
    vector_routes,
    workflow_routes,
)
from app.service.collector import settle_after_start_up
from app.service.config import ServiceConfig
from app.service.operations import Operations
from app.service.security import Authenticator, BodyLimitMiddleware, RateLimiter
from app.service.state import ServiceState
from app.sophia.portkey_unified_factory import SophiaFactory
from app.telemetry import TelemetryObserver
from app.vectors.registry import get_store

log = logging.getLogger("app.service")


async def _health_loop(state: ServiceState, interval: float) -> None:
    while True:
        try:
            await ops_routes.check_health(state, force=True)
        except Exception as exc:  # noqa: BLE001 - the probe loop must outlive any one failure
            log.warning("background health check failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)  # a period between probes, not synchronisation


def create_app(settings: Any = None, config: ServiceConfig | None = None) -> FastAPI:
    """The service. ``settings`` defaults to the environment and ``.env``; ``config`` to the settings'."""
    settings = settings if settings is not None else get_settings()
    config = (config or ServiceConfig.from_settings(settings)).checked()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        manager = runtime.manager
        analytics = await AnalyticsStore.from_settings(settings, table_prefix=config.analytics_table_prefix).start()
        manager.observers.add(TelemetryObserver())
        manager.observers.add(analytics.observe)
        manager.feedback_observers.add(analytics.observe_feedback)
        state = ServiceState(
            config=config, manager=manager, artemis=runtime.factory(ArtemisFactory),
            sophia=runtime.factory(SophiaFactory), documents=runtime.documents,
            analytics=analytics, auth=Authenticator(config.api_keys, config.auth_enabled),
            limiter=RateLimiter(config.rate_limit, settings.redis_url, config.rate_limit_namespace),
            started_at=time.time(), held_store=None if settings.qdrant_url else get_store(settings, "qdrant"),
        )
        manager.observers.add(state.recent_errors)
        if config.health_interval > 0:
            state.background.append(asyncio.create_task(_health_loop(state, config.health_interval),
                                                        name="health-probes"))
        # The routing file reloads on a change (and on SIGHUP) without dropping requests: see app.routing.holder.
        state.background.append(asyncio.create_task(watch(manager.policies, settings.sophia_routing_watch),
                                                    name="routing-file-watch"))
        state.operations = Operations.start(settings, runtime)
        app.state.sophia = state
        load_price_tables()  # every answer is priced: built before the first one, and settled with the rest
        if config.settle_collector:
            settle_after_start_up()  # what start-up built lives as long as the service: out of the collector's way
        try:
            with reload_on_sighup(manager.policies, asyncio.get_running_loop()):
                yield
        finally:
            await state.operations.aclose()
            for task in state.background:
                task.cancel()
            await asyncio.gather(*state.background, return_exceptions=True)
            await analytics.aclose()
            await runtime.aclose()

    # With auth on, the API's description is not handed to whoever asks: no /openapi.json, no /docs.
    docs = not config.auth_enabled
    app = FastAPI(title="Sophia Intel AI routing layer", version=ops_routes.package_version(),
                  lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url=None,
                  openapi_url="/openapi.json" if docs else None)
    errors.install(app)
    app.include_router(openai_routes.router)
    app.include_router(agent_routes.router)
    app.include_router(document_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(alerts_routes.router)
    app.include_router(routing_routes.router)
    app.include_router(vector_routes.router)
    app.include_router(workflow_routes.router)
    app.include_router(workflow_routes.dashboard_router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    return app
