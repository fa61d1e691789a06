"""Alert delivery against a real HTTP receiver (down, back, refusing), and deduplication through Redis."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from app.alerts import (
    AlertEvaluator,
    AlertEvent,
    AlertHistory,
    Notifier,
    RedisLedger,
    Sample,
    Signal,
    WebhookSink,
)
from app.alerts.delivery import DeadLetters
from app.alerts.rules import AlertRule
from tests.support import need_service
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration
REDIS = "redis://127.0.0.1:6379/0"


def event(status: str = "firing", name: str = "ProviderDown") -> AlertEvent:
    return AlertEvent(alertname=name, status=status, severity="critical", labels={"provider": "openai"}, value=1.0,
                      threshold=1.0, summary="openai: all upstream attempts failed over 2m", starts_at=time.time(),
                      ends_at=None, fingerprint=uuid.uuid4().hex[:16], instance="test")


async def test_generic_and_slack_bodies_reach_a_live_receiver(tmp_path):
    receiver = await WebhookReceiver().start()
    dead = DeadLetters(tmp_path / "dead.jsonl")
    generic = WebhookSink(receiver.url, "json", dead, attempts=3, backoff=0.05).start()
    slack = WebhookSink(receiver.url, "slack", dead, attempts=3, backoff=0.05).start()
    try:
        sent = event()
        generic.submit(sent)
        slack.submit(sent)
        bodies = [(await receiver.next())[1] for _ in range(2)]
    finally:
        await generic.aclose()
        await slack.aclose()
        await receiver.stop()
    plain = next(b for b in bodies if "alertname" in b)
    chat = next(b for b in bodies if "text" in b)
    assert plain["status"] == "firing" and plain["labels"] == {"provider": "openai"} and plain["version"] == 1
    assert chat["text"].startswith(":rotating_light: [FIRING] ProviderDown (critical)")
    assert chat["blocks"][0]["type"] == "section" and "provider=openai" in chat["blocks"][0]["text"]["text"]
    assert dead.read() == []


async def test_a_receiver_that_is_down_and_comes_back_gets_every_notification_in_order(tmp_path):
    receiver = WebhookReceiver()  # its port is chosen but nothing listens yet
    dead = DeadLetters(tmp_path / "dead.jsonl")
    sink = WebhookSink(receiver.url, "json", dead, attempts=8, backoff=0.1).start()
    try:
        firing, resolved = event("firing"), event("resolved")
        sink.submit(firing)
        sink.submit(resolved)
        await sink.post_failed.wait()  # the first post found nobody listening
        assert sink.failed_posts >= 1
        await receiver.start()
        first, second = (await receiver.next())[1], (await receiver.next())[1]
        await sink.drain()
    finally:
        await sink.aclose()
        await receiver.stop()
    assert (first["status"], second["status"]) == ("firing", "resolved")
    assert dead.read() == []


async def test_what_cannot_be_delivered_goes_to_the_dead_letter_log_without_the_url(tmp_path):
    secret_url = f"http://127.0.0.1:{WebhookReceiver().port}/hook/T000/B000/secret-token-xyz"
    dead = DeadLetters(tmp_path / "dead.jsonl")
    sink = WebhookSink(secret_url, "slack", dead, attempts=3, backoff=0.02).start()
    refusing = await WebhookReceiver(status=404).start()
    refused = WebhookSink(refusing.url, "json", dead, attempts=5, backoff=0.02).start()
    try:
        sink.submit(event())
        refused.submit(event(name="BudgetSpent"))
        await sink.drain()
        await refused.drain()
    finally:
        await sink.aclose()
        await refused.aclose()
        await refusing.stop()
    letters = {letter["event"]["alertname"]: letter for letter in dead.read()}
    assert letters["ProviderDown"]["attempts"] == 3 and letters["ProviderDown"]["reason"] == "ConnectError"
    assert letters["BudgetSpent"]["attempts"] == 1 and "404" in letters["BudgetSpent"]["reason"]
    assert refusing.count == 1  # a 4xx other than 429 is not retried
    text = (tmp_path / "dead.jsonl").read_text()
    assert "secret-token-xyz" not in text and "T000" not in text
    assert oct((tmp_path / "dead.jsonl").stat().st_mode & 0o777) == "0o600"


class Shared:
    """Both instances see the same condition (as with a circuit shared through Redis)."""

    signals = frozenset({Signal.CIRCUIT_OPEN})

    def __init__(self) -> None:
        self.value = 0.0

    async def samples(self, signal, rule, now):
        return [Sample.of(self.value, provider="openai", model="gpt-4o")]


async def test_two_instances_seeing_one_condition_notify_once_through_redis():
    import redis.asyncio as redis

    try:
        await redis.from_url(REDIS).ping()
    except Exception as exc:  # noqa: BLE001
        need_service("Redis at 127.0.0.1:6379", type(exc).__name__)
    namespace = f"t{uuid.uuid4().hex[:8]}"
    rule = AlertRule(name="CircuitOpen", signal=Signal.CIRCUIT_OPEN, above=2, clear=1, **{"for": 0})
    source = Shared()
    history = AlertHistory(REDIS, namespace)
    instances = [AlertEvaluator([rule], [source], Notifier(history), RedisLedger(REDIS, namespace),
                                instance=f"host-{i}") for i in range(2)]
    now = time.time()
    source.value = 2
    fired = [e for ev in instances for e in await ev.evaluate(now)]
    fired += [e for ev in instances for e in await ev.evaluate(now + 5)]  # still firing: nothing new
    source.value = 0
    resolved = [e for e in await instances[0].evaluate(now + 10)]
    assert resolved == []  # host-1 still sees it firing
    resolved += await instances[1].evaluate(now + 10)
    assert [(e.status, e.instance) for e in fired] == [("firing", "host-0")]
    assert [(e.status, e.instance) for e in resolved] == [("resolved", "host-1")]
    shared = await AlertHistory(REDIS, namespace).recent()
    assert [e["status"] for e in shared] == ["resolved", "firing"]
    client = redis.from_url(REDIS)
    await client.delete(f"{namespace}:alerts:history")
    assert await client.keys(f"{namespace}:alerts:firing:*") == []
    await client.aclose()
    for ev in instances:
        await ev.ledger.aclose()
    await history.aclose()
    assert json.dumps(shared)  # plain JSON
