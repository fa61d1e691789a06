"""Where alert notifications go: the log, the history, and webhooks (retried, then dead-lettered).

A webhook gets either a generic JSON body (``format: json``: the event's fields) or a Slack-compatible
one (``format: slack``: ``text`` plus one ``blocks`` section, which Slack, Mattermost and most chat
incoming-webhooks accept). Each webhook has its own queue and worker, so a slow or dead receiver never
holds the evaluator or another webhook, and its notifications arrive in order. A failed post (no
connection, a timeout, a 5xx or 429) is retried with exponential backoff (tenacity) up to
``ALERT_WEBHOOK_ATTEMPTS`` tries; a notification that still could not be delivered, or that a receiver
refused with another 4xx, is appended to the dead-letter log (JSON lines in ``SOPHIA_DATA_DIR``) with
the reason. Webhook URLs are secrets (a Slack URL is a credential): logs and dead letters name a
webhook by its host and a digest of its URL only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from app.alerts import metrics
from app.alerts.history import AlertHistory

log = logging.getLogger("app.alerts")

DEAD_LETTER_FILE = "alerts-dead-letter.jsonl"
QUEUE_SIZE = 1000
_ICON = {"firing": {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"},
         "resolved": {"critical": ":white_check_mark:", "warning": ":white_check_mark:",
                      "info": ":white_check_mark:"}}


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One notification: an alert started firing or resolved."""

    alertname: str
    status: str
    """``firing`` or ``resolved``."""
    severity: str
    labels: dict[str, str]
    value: float | None
    threshold: float
    summary: str
    starts_at: float
    ends_at: float | None
    fingerprint: str
    instance: str
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """The generic JSON body (and the history's and the dead-letter log's record)."""
        return {"version": 1, **asdict(self)}

    def slack_body(self) -> dict[str, Any]:
        """A Slack-compatible incoming-webhook body."""
        icon = _ICON[self.status].get(self.severity, "")
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        text = f"{icon} [{self.status.upper()}] {self.alertname} ({self.severity}): {self.summary}"
        detail = f"*{self.alertname}* {self.status} ({self.severity})\n{self.summary}"
        if labels:
            detail += f"\n`{labels}`"
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": detail}}]}


class _Retryable(Exception):
    """A post that may succeed if tried again (no connection, timeout, 5xx, 429)."""


def webhook_name(url: str) -> str:
    """How logs name a webhook: its host and 8 hex digits of its URL's sha256 (the URL may be a credential)."""
    return f"{urlsplit(url).hostname or '?'}#{hashlib.sha256(url.encode()).hexdigest()[:8]}"


class DeadLetters:
    """The append-only log of notifications no webhook took."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, webhook: str, event: AlertEvent, reason: str, attempts: int) -> None:
        """Append one line (a single ``write`` on an ``O_APPEND`` file: lines of concurrent writers never mix)."""
        line = json.dumps({"at": time.time(), "webhook": webhook, "reason": reason, "attempts": attempts,
                           "event": event.as_dict()}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """Every dead letter, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


class WebhookSink:
    """Posts notifications to one URL, in order, retrying; dead-letters what it cannot deliver."""

    def __init__(self, url: str, body_format: str, dead_letters: DeadLetters, *, attempts: int = 6,
                 backoff: float = 1.0, timeout: float = 5.0) -> None:
        self._url = url
        self.format = body_format
        self.name = webhook_name(url)
        self.dead_letters = dead_letters
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self._queue: asyncio.Queue[AlertEvent] = asyncio.Queue(QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self.failed_posts = 0
        """Posts that failed (each retry counts)."""
        self.post_failed = asyncio.Event()
        """Set at each failed post (tests wait on it instead of sleeping)."""

    def start(self) -> WebhookSink:
        """Start the worker on the running loop."""
        self._worker = asyncio.create_task(self._work(), name=f"webhook {self.name}")
        return self

    def submit(self, event: AlertEvent) -> None:
        """Queue ``event``; a full queue (a receiver long gone) dead-letters it at once."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._dead(event, "queue full", 0)

    def _body(self, event: AlertEvent) -> bytes:
        return json.dumps(event.slack_body() if self.format == "slack" else event.as_dict()).encode()

    async def _work(self) -> None:
        async with httpx2.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            while True:
                event = await self._queue.get()
                try:
                    await self._deliver(client, event)
                finally:
                    self._queue.task_done()

    def _failed(self) -> None:
        self.failed_posts += 1
        self.post_failed.set()

    async def _post(self, client: httpx2.AsyncClient, body: bytes) -> None:
        try:
            response = await client.post(self._url, content=body, headers={"content-type": "application/json"})
        except httpx2.TransportError as exc:
            self._failed()
            raise _Retryable(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            self._failed()
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            self._failed()
            raise ValueError(f"HTTP {response.status_code} (refused, not retried)")

    async def _deliver(self, client: httpx2.AsyncClient, event: AlertEvent) -> None:
        body = self._body(event)
        tries = 0
        try:
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.attempts), reraise=True,
                    wait=wait_exponential(multiplier=self.backoff, max=self.backoff * 32),
                    retry=retry_if_exception_type(_Retryable)):
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    await self._post(client, body)
        except (_Retryable, ValueError) as exc:
            self._dead(event, str(exc), tries)
            return
        metrics.NOTIFICATIONS.labels("webhook", "delivered").inc()
        if tries > 1:
            log.info("alert %s delivered to webhook %s after %d tries", event.alertname, self.name, tries)

    def _dead(self, event: AlertEvent, reason: str, tries: int) -> None:
        metrics.NOTIFICATIONS.labels("webhook", "dead_letter").inc()
        log.warning("alert %s (%s) could not be delivered to webhook %s (%s after %d tries): written to %s",
                    event.alertname, event.status, self.name, reason, tries, self.dead_letters.path)
        self.dead_letters.write(self.name, event, reason, tries)

    async def drain(self) -> None:
        """Wait until every queued notification was delivered or dead-lettered."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Stop the worker; notifications still queued go to the dead-letter log."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        while not self._queue.empty():
            self._dead(self._queue.get_nowait(), "service stopped before delivery", 0)


class Notifier:
    """Hands each notification to the log, the history and every webhook."""

    def __init__(self, history: AlertHistory, webhooks: Iterable[WebhookSink] = ()) -> None:
        self.history = history
        self.webhooks = list(webhooks)

    async def notify(self, event: AlertEvent) -> None:
        """Log, record and queue ``event`` (webhook posts happen in the background)."""
        level = logging.WARNING if event.status == "firing" and event.severity != "info" else logging.INFO
        labels = " ".join(f"{k}={v}" for k, v in sorted(event.labels.items()))
        log.log(level, "alert %s %s (%s) %s: %s", event.alertname, event.status.upper(), event.severity,
                labels, event.summary)
        metrics.NOTIFICATIONS.labels("log", "delivered").inc()
        await self.history.record(event.as_dict())
        for sink in self.webhooks:
            sink.submit(event)

    async def aclose(self) -> None:
        """Stop every webhook worker."""
        for sink in self.webhooks:
            await sink.aclose()
        await self.history.aclose()
