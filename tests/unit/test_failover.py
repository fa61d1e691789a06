"""The failover rules through the transport seam: a fake gateway behind httpx2.MockTransport, no Node.

The same rules run against the real gateway in tests/integration/test_routing_gateway.py; here each
branch of the loop is driven directly, in milliseconds.
"""

from __future__ import annotations

import time

import httpx2
import pytest

from app.core.errors import (
    AllProvidersFailedError,
    GatewayTimeoutError,
    GatewayUnavailableError,
    RateLimitError,
    StreamClosedError,
    StreamInterruptedError,
)
from app.core.manager import PortkeyManager
from app.core.settings import load_settings
from app.core.transport import GatewayTransport
from tests.unit.fake_gateway import URL, FakeGateway

CHAIN = ["anthropic/claude-sonnet-4-5", "deepseek/deepseek-chat"]
KEYS = {f"{p}_api_key": f"sk-test-{p}-0123456789abcdef" for p in ("openai", "anthropic", "deepseek")}
HOSTS = {f"{p}_base_url": f"http://{p}.test/v1" for p in ("openai", "anthropic", "deepseek")}


def manager_on(transport: GatewayTransport) -> tuple[PortkeyManager, list]:
    settings = load_settings(_env_file=None, portkey_base_url=URL, max_retries=0, **KEYS, **HOSTS)
    manager = PortkeyManager(settings, transport=transport)
    records: list = []
    manager.observers.add(records.append)
    return manager, records


async def complete(manager: PortkeyManager, fallbacks: list[str] | None = None, **kw):
    return await manager.acreate_completion("openai/gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                            fallbacks=CHAIN if fallbacks is None else fallbacks, **kw)


async def test_the_gateway_falls_back_in_one_round_trip():
    gateway = FakeGateway(**{"gpt-4o": 503})
    manager, records = manager_on(gateway.transport())
    answer = await complete(manager)
    assert answer.content == "answer from claude-sonnet-4-5"
    assert answer.routing.fallback_used and answer.routing.served_index == 1
    assert [a.describe() for a in answer.routing.attempts] == ["openai/gpt-4o: 503",
                                                               "anthropic/claude-sonnet-4-5: 200"]
    assert len(gateway.requests) == 1 and len(records) == 1 and records[0].routing is answer.routing


async def test_an_unreadable_answer_goes_on_with_the_rest_of_the_chain():
    gateway = FakeGateway(**{"gpt-4o": "malformed"})
    manager, records = manager_on(gateway.transport())
    answer = await complete(manager)
    assert answer.routing.provider == "anthropic" and answer.routing.served_index == 1
    assert [a.describe() for a in answer.routing.attempts] == ["openai/gpt-4o: malformed response",
                                                               "anthropic/claude-sonnet-4-5: 200"]
    # The second round trip carries only what remained of the chain, with the request's own model.
    assert [r["models"] for r in gateway.requests] == [["gpt-4o", *[c.split("/")[1] for c in CHAIN]],
                                                       ["claude-sonnet-4-5", "deepseek-chat"]]
    assert gateway.requests[1]["body"]["model"] == "claude-sonnet-4-5"
    assert len(records) == 1 and records[0].error is None


async def test_a_chain_of_unreadable_answers_is_exhausted_with_every_attempt_named():
    gateway = FakeGateway(**{"gpt-4o": "malformed", "claude-sonnet-4-5": "malformed", "deepseek-chat": 500})
    manager, records = manager_on(gateway.transport())
    with pytest.raises(AllProvidersFailedError) as caught:
        await complete(manager)
    message = str(caught.value)
    assert "openai/gpt-4o: malformed response -> anthropic/claude-sonnet-4-5: malformed response" in message
    assert "deepseek/deepseek-chat: 500" in message and caught.value.status == 500
    assert len(records) == 1 and records[0].error is caught.value


async def test_a_one_target_failure_is_keyed_on_status_with_redacted_body_and_headers():
    manager, _ = manager_on(FakeGateway(**{"gpt-4o": 429}).transport())
    with pytest.raises(RateLimitError) as caught:
        await complete(manager, fallbacks=[])
    error = caught.value
    assert error.status == 429 and error.retry_after == 7.0 and error.provider == "openai"
    assert "sk-abcdef" not in str(error) and "sk-abcdef" not in str(error.body)
    assert "[redacted]" in error.body["error"]["message"]
    assert error.headers["retry-after"] == "7" and "x-sophia-attempts" in error.headers
    assert [a.status for a in error.attempts] == [429]


async def test_a_stream_cut_before_content_continues_unseen_on_the_next_target():
    gateway = FakeGateway(**{"gpt-4o": "cut_before", "claude-sonnet-4-5": "drop"})
    manager, records = manager_on(gateway.transport())
    stream = await complete(manager, stream=True)
    chunks = [chunk async for chunk in stream]
    assert stream.text == "Hello world" and {c.model for c in chunks} == {"deepseek-chat"}
    assert stream.routing.served_index == 2 and stream.routing.provider == "deepseek"
    errors = [a.error for a in stream.routing.attempts]
    assert errors[0] == "stream ended before it finished" and errors[1].startswith("connection lost")
    assert len(gateway.requests) == 3 and len(records) == 1 and records[0].routing is stream.routing


async def test_a_stream_cut_after_content_raises_with_the_partial_text():
    manager, records = manager_on(FakeGateway(**{"gpt-4o": "cut_after"}).transport())
    stream = await complete(manager, stream=True)
    with pytest.raises(StreamInterruptedError) as caught:
        async for _ in stream:
            pass
    assert caught.value.partial_text == "Hello" and caught.value.provider == "openai"
    assert len(records) == 1 and records[0].error is caught.value


async def test_a_stream_closed_by_its_caller_is_reported_once():
    manager, records = manager_on(FakeGateway().transport())
    stream = await complete(manager, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    assert len(records) == 1 and isinstance(records[0].error, StreamClosedError)


@pytest.mark.parametrize(("raised", "expected"), [
    (httpx2.ConnectError("refused"), GatewayUnavailableError),
    (httpx2.ConnectTimeout("slow connect"), GatewayUnavailableError),
    (httpx2.ReadTimeout("no answer"), GatewayTimeoutError),
])
async def test_our_own_hop_failing_is_a_connection_error_not_a_provider_error(raised, expected):
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise raised

    mock = httpx2.MockTransport(handler)
    manager, records = manager_on(GatewayTransport(URL, timeout=5, client_factory=lambda: httpx2.AsyncClient(
        transport=mock, base_url=URL)))
    with pytest.raises(expected) as caught:
        await complete(manager)
    assert caught.value.base_url == URL and len(records) == 1
    stream = await complete(manager, stream=True)
    with pytest.raises(expected):
        async for _ in stream:
            pass


# ----- deadlines per attempt ------------------------------------------------------------------------
# REQUEST_TIMEOUT=0.2: headers 0.2 s, first content and idle 0.1 s; no retries, so each target may take
# 0.3 s and a three-target call is bounded by 3 * 0.3 + 0.2 = 1.1 s.

def fast_manager(gateway: FakeGateway, **settings) -> tuple[PortkeyManager, list]:
    values = dict(_env_file=None, portkey_base_url=URL, max_retries=0, request_timeout=0.2, **KEYS, **HOSTS)
    manager = PortkeyManager(load_settings(**{**values, **settings}), transport=gateway.transport())
    records: list = []
    manager.observers.add(records.append)
    return manager, records


async def test_an_embedding_call_of_several_waves_of_batches_gets_the_bound_once_per_wave():
    # One embeddings request may take 0.2 + 0.1 s, and the call 0.3 + 0.2 = 0.5 s; 600 texts are 5 batches
    # of 128 sent 4 at a time: two waves of 0.3 s each, 0.6 s in all.
    gateway = FakeGateway(embedding_latency=0.3)
    manager, _ = fast_manager(gateway, cache_ttl=0)
    texts = [f"text {i}" for i in range(600)]
    started = time.monotonic()
    answer = await manager.acreate_embedding(texts, provider="openai", model="text-embedding-3-small")
    assert len(answer.vectors) == 600 and answer.vectors[599][0] == 599 - 512
    assert len(gateway.requests) == 5 and 0.55 < time.monotonic() - started < 1.0


def test_the_bound_of_a_call_follows_from_its_deadlines():
    from app.core.deadlines import Deadlines

    defaults = Deadlines.from_timeout(60)
    assert (defaults.headers, defaults.first_content, defaults.idle) == (60, 30, 30)
    assert defaults.per_target(3) == 4 * 60 + 7 + 30
    assert defaults.call_bound(3, 3) == 3 * 277 + 5  # 836 s with the defaults: the README's figure
    assert Deadlines.from_timeout(0.2).call_bound(3, 0) == pytest.approx(1.1)


async def test_a_stream_silent_after_its_role_chunk_goes_on_unseen_within_its_deadline():
    gateway = FakeGateway(**{"gpt-4o": "stall_before"})
    manager, records = fast_manager(gateway)
    started = time.perf_counter()
    stream = await complete(manager, stream=True)
    chunks = [chunk async for chunk in stream]
    elapsed = time.perf_counter() - started
    assert stream.text == "Hello world" and {c.model for c in chunks} == {"claude-sonnet-4-5"}
    assert stream.routing.attempts[0].error == "stalled: no content within 0.1 s"
    assert 0.1 <= elapsed < 1.1 and len(records) == 1


async def test_a_stream_silent_after_content_raises_the_typed_interruption():
    manager, records = fast_manager(FakeGateway(**{"gpt-4o": "stall_after"}))
    stream = await complete(manager, stream=True)
    started = time.perf_counter()
    with pytest.raises(StreamInterruptedError) as caught:
        async for _ in stream:
            pass
    assert caught.value.partial_text == "Hello" and "silent for 0.1 s" in str(caught.value)
    assert time.perf_counter() - started < 1.0 and records[0].error is caught.value


async def test_a_plain_answer_that_stalled_goes_on_with_the_rest_of_the_chain():
    gateway = FakeGateway(**{"gpt-4o": "stalled"})
    manager, _ = fast_manager(gateway)
    answer = await complete(manager)
    assert answer.routing.provider == "anthropic" and answer.routing.served_index == 1
    assert answer.routing.attempts[0].describe() == "openai/gpt-4o: stalled: no complete answer within 0.1 s"
    # each round tells our preload how long a plain body may take, and the gateway each target's headers deadline
    headers = gateway.requests[0]
    assert headers["body_timeout_ms"] == "100" and headers["request_timeouts"] == [200, 200, 200]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_gateway_that_never_answers_is_a_timeout_within_the_calls_bound(stream):
    manager, records = fast_manager(FakeGateway(**{"gpt-4o": "hang"}))
    started = time.perf_counter()
    with pytest.raises(GatewayTimeoutError):
        result = await complete(manager, stream=stream)
        async for _ in result:
            pass
    assert 1.0 < time.perf_counter() - started < 1.6 and len(records) == 1


async def test_a_role_gets_its_own_deadlines():
    manager, _ = fast_manager(FakeGateway(), role_deadlines={"artemis/code_reviewer": {"first_content": 5}})
    role = manager.deadlines({"domain": "artemis", "role": "CODE_REVIEWER"})
    assert (role.headers, role.first_content, role.idle) == (0.2, 5, 0.1)
    assert manager.deadlines({"domain": "sophia", "role": "market_analyst"}).first_content == 0.1
