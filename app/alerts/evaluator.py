"""The rule engine: samples from the sources, a state machine per alert, the ledger, the notifier.

Per rule and label set: **inactive** -> (value past the threshold) **pending** -> (still past it after
``for``) **firing** -> (back past the clear level for ``keep_firing_for``) **inactive**. A pending
alert whose value goes back past the clear level is dropped without a word; a value between the
threshold and the clear level changes nothing (the hysteresis band), so a value hovering at the
threshold fires once and resolves once. A label set that stops having samples counts as clear.

A firing alert joins the ledger (the first instance to join notifies), sends a heartbeat every
``heartbeat`` seconds while it fires, and leaves when it resolves (the last to leave notifies). While
the shared ledger is unreachable this instance decides alone (one warning), as the breakers do.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.alerts import metrics
from app.alerts.delivery import AlertEvent, Notifier
from app.alerts.ledger import MemoryLedger
from app.alerts.rules import AlertRule
from app.alerts.signals import Sample, Signal, Source
from app.core.loops import call_in_loop
from app.core.outage import Outage

log = logging.getLogger("app.alerts")

MIN_GAP = 0.1
"""Seconds between two evaluations woken by calls: a burst of calls costs one evaluation."""


@dataclass
class _Alert:
    rule: AlertRule
    labels: tuple[tuple[str, str], ...]
    fingerprint: str
    status: str = "inactive"
    since: float = 0.0
    cleared_since: float | None = None
    value: float | None = None
    fired_at: float = 0.0
    beat_at: float = 0.0


def fingerprint(rule_name: str, labels: Iterable[tuple[str, str]]) -> str:
    """A stable id of one alert (rule and labels), the same in every instance."""
    text = rule_name + "|" + "|".join(f"{k}={v}" for k, v in labels)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class AlertEvaluator:
    """Evaluates ``rules`` against ``sources`` and notifies transitions once across instances."""

    def __init__(self, rules: list[AlertRule], sources: Iterable[Source], notifier: Notifier, ledger: Any = None,
                 *, instance: str = "local", interval: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.rules = rules
        self.sources: dict[Signal, Source] = {}
        for source in sources:
            for signal in source.signals:
                self.sources[signal] = source
        self.notifier = notifier
        self.fallback = MemoryLedger()
        self.ledger = ledger if ledger is not None else self.fallback
        self.instance = instance
        self.interval = interval
        self.heartbeat = max(interval, 10.0)
        self.ttl = 3 * self.heartbeat
        self._clock = clock
        self._alerts: dict[str, _Alert] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.outage = Outage("alert ledger", 5.0, log, consequence="alerts are deduplicated per instance")
        self.evaluations = 0

    # ----- the ledger, with this process's as the fallback -------------------------------------------

    async def _ledger(self, step: str, *args: Any) -> Any:
        if self.ledger is self.fallback or self.outage.paused:
            return await getattr(self.fallback, step)(*args)
        try:
            result = await getattr(self.ledger, step)(*args)
        except Exception as exc:  # noqa: BLE001 - a broken Redis must not silence alerts
            self.outage.failed(type(exc).__name__)
            return await getattr(self.fallback, step)(*args)
        self.outage.succeeded()
        return result

    # ----- evaluation ------------------------------------------------------------------------------

    async def evaluate(self, now: float | None = None) -> list[AlertEvent]:
        """One pass over every rule at ``now``; the notifications it sent."""
        now = self._clock() if now is None else now
        self.evaluations += 1
        events: list[AlertEvent] = []
        for rule in self.rules:
            source = self.sources.get(rule.signal)
            if source is None:
                continue
            try:
                samples = await source.samples(rule.signal, rule, now)
            except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
                log.warning("alert rule %s: its source failed (%s); states kept", rule.name, type(exc).__name__)
                continue
            events.extend(await self._apply(rule, samples, now))
        firing: dict[tuple[str, str], int] = {}
        for alert in self._alerts.values():
            if alert.status == "firing":
                key = (alert.rule.name, alert.rule.severity)
                firing[key] = firing.get(key, 0) + 1
        for rule in self.rules:
            metrics.ALERTS_FIRING.labels(rule.name, rule.severity).set(firing.get((rule.name, rule.severity), 0))
        return events

    async def _apply(self, rule: AlertRule, samples: list[Sample], now: float) -> list[AlertEvent]:
        seen = set()
        events = []
        for sample in samples:
            fp = fingerprint(rule.name, sample.labels)
            seen.add(fp)
            alert = self._alerts.get(fp)
            if alert is None:
                if not rule.breached(sample.value):
                    continue
                alert = self._alerts[fp] = _Alert(rule, sample.labels, fp)
            event = await self._step(alert, sample.value, now)
            if event is not None:
                events.append(event)
        for fp, alert in list(self._alerts.items()):
            if alert.rule.name == rule.name and fp not in seen:
                event = await self._step(alert, None, now)
                if event is not None:
                    events.append(event)
        return events

    async def _step(self, alert: _Alert, value: float | None, now: float) -> AlertEvent | None:
        rule = alert.rule
        breached = value is not None and rule.breached(value)
        cleared = value is None or rule.cleared(value)
        if value is not None:
            alert.value = value
        if alert.status == "firing":
            return await self._firing(alert, cleared, now)
        if alert.status == "inactive":
            if not breached:
                self._alerts.pop(alert.fingerprint, None)
                return None
            alert.status, alert.since = "pending", now
        if cleared and not breached:  # pending, and back on the healthy side: dropped without a word
            self._alerts.pop(alert.fingerprint, None)
            return None
        if breached and now - alert.since >= rule.for_:
            alert.status, alert.fired_at, alert.beat_at, alert.cleared_since = "firing", now, now, None
            if await self._ledger("join", alert.fingerprint, self.instance, now, self.ttl):
                return await self._send(alert, "firing", now)
        return None

    async def _firing(self, alert: _Alert, cleared: bool, now: float) -> AlertEvent | None:
        if now - alert.beat_at >= self.heartbeat:
            alert.beat_at = now
            await self._ledger("refresh", alert.fingerprint, self.instance, now, self.ttl)
        if not cleared:
            alert.cleared_since = None
            return None
        if alert.cleared_since is None:
            alert.cleared_since = now
        if now - alert.cleared_since < alert.rule.keep_firing_for:
            return None
        self._alerts.pop(alert.fingerprint, None)
        if await self._ledger("leave", alert.fingerprint, self.instance, now):
            return await self._send(alert, "resolved", now)
        return None

    async def _send(self, alert: _Alert, status: str, now: float) -> AlertEvent:
        rule = alert.rule
        labels = dict(alert.labels)
        value = alert.value if alert.value is not None else rule.threshold
        event = AlertEvent(alertname=rule.name, status=status, severity=rule.severity, labels=labels,
                           value=alert.value, threshold=rule.threshold, summary=rule.describe(value, labels),
                           starts_at=alert.fired_at, ends_at=now if status == "resolved" else None,
                           fingerprint=alert.fingerprint, instance=self.instance, at=now)
        await self.notifier.notify(event)
        return event

    def firing(self) -> list[dict[str, Any]]:
        """What this instance sees firing or pending (the dashboard's local view)."""
        return [{"alertname": a.rule.name, "status": a.status, "severity": a.rule.severity, "labels": dict(a.labels),
                 "value": a.value, "since": a.since} for a in self._alerts.values()]

    # ----- the loop the lifespan runs --------------------------------------------------------------

    def wake(self) -> None:
        """Ask for an evaluation soon (called by the traffic observer after each call; any thread)."""
        if self._loop is not None:
            call_in_loop(self._loop, self._wake.set)

    async def run(self) -> None:
        """Evaluate every ``interval`` seconds, and soon after calls finish (at most every ``MIN_GAP``)."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self.evaluate()
            except Exception:
                log.exception("alert evaluation failed")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that arrives
            # as the event is set (the lifespan's shutdown then waited for this task forever).
            try:
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(MIN_GAP)  # a pause between evaluations, not synchronisation
