"""The service's operations parts, built in the lifespan: alerts, usage anomalies, key ages, key reloads.

    ops = Operations.start(settings, runtime)     # observers on the manager, background tasks started
    ...
    await ops.aclose()                            # tasks cancelled, webhook queues dead-lettered

Every service process (each ``--workers`` worker, each host) runs its own evaluator on its own
traffic; with ``REDIS_URL`` they share the alert ledger and history, so a condition several see
notifies once, and the dashboard of any instance shows the same history.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.alerts import (
    AlertEvaluator,
    AlertHistory,
    MemoryLedger,
    Notifier,
    RedisLedger,
    TrafficWindow,
    UsageAnomalies,
    WebhookSink,
    load_rules,
)
from app.alerts.delivery import DEAD_LETTER_FILE, DeadLetters
from app.alerts.sources import BudgetSource, CircuitSource, KeySource, StoreSource
from app.core.settings import load_settings
from app.keys import EnvWatcher, KeyLedger
from app.runtime import Runtime

log = logging.getLogger("app.service")

ENV_FILE = Path(".env")
"""The file the settings read (pydantic-settings' ``env_file``, relative to the working directory)."""


def instance_id() -> str:
    """This process among the deployment's instances: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Operations:
    """What the lifespan started for operations, and stops on shutdown."""

    history: AlertHistory
    notifier: Notifier
    keys: KeyLedger
    anomalies: UsageAnomalies
    evaluator: AlertEvaluator | None = None
    watcher: EnvWatcher | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Any, runtime: Runtime) -> Operations:
        """Build from ``settings``, hook the observers onto ``runtime.manager``, start the background tasks."""
        manager = runtime.manager
        data_dir = Path(settings.sophia_data_dir)
        history = AlertHistory(settings.redis_url, settings.redis_namespace)
        dead_letters = DeadLetters(data_dir / DEAD_LETTER_FILE)
        webhooks = [WebhookSink(hook.url.get_secret_value(), hook.format, dead_letters,
                                attempts=settings.alert_webhook_attempts, backoff=settings.alert_webhook_backoff,
                                timeout=settings.alert_webhook_timeout).start()
                    for hook in settings.alert_webhooks]
        notifier = Notifier(history, webhooks)
        keys = KeyLedger.from_settings(settings)
        keys.observe(manager.settings)
        anomalies = UsageAnomalies(settings.anomaly_interval, settings.anomaly_alpha, settings.anomaly_warmup)
        manager.observers.add(anomalies)
        ops = cls(history, notifier, keys, anomalies)
        if settings.alerts_enabled:
            ops.evaluator = ops._evaluator(settings, runtime)
            ops.tasks.append(asyncio.create_task(ops.evaluator.run(), name="alerts"))
        if settings.key_watch_interval > 0:
            ops.watcher = EnvWatcher(manager, ENV_FILE, lambda path: load_settings(_env_file=path), ledger=keys,
                                     interval=settings.key_watch_interval)
            ops.tasks.append(asyncio.create_task(ops.watcher.run(), name="key-watch"))
        return ops

    def _evaluator(self, settings: Any, runtime: Runtime) -> AlertEvaluator:
        manager = runtime.manager
        rules = load_rules(settings.sophia_alerts_file)
        refresh = settings.alerts_interval
        traffic = TrafficWindow(horizon=max(r.window for r in rules) + 60)
        sources: list[Any] = [traffic, self.anomalies, KeySource(self.keys, lambda: manager.settings, max(refresh, 60))]

        async def stores() -> dict[str, tuple[bool, str]]:
            return {name: (check.ok, check.reason) for name, check in (await runtime.health.stores()).items()}

        sources.append(StoreSource(stores, max(refresh, 30)))
        for source in (CircuitSource(manager.circuits, refresh) if manager.circuits else None,
                       BudgetSource(manager.limits, refresh) if manager.limits else None):
            if source is not None:
                manager.observers.add(source)
                sources.append(source)
        ledger = RedisLedger(settings.redis_url, settings.redis_namespace) if settings.redis_url else MemoryLedger()
        evaluator = AlertEvaluator(rules, sources, self.notifier, ledger, instance=instance_id(), interval=refresh)
        traffic.on_record = evaluator.wake
        manager.observers.add(traffic)
        return evaluator

    async def aclose(self) -> None:
        """Cancel the tasks, stop the webhooks (queued notifications are dead-lettered), close connections."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.notifier.aclose()
        if self.evaluator is not None and isinstance(self.evaluator.ledger, RedisLedger):
            await self.evaluator.ledger.aclose()
