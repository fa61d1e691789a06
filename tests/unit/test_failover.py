"""The failover rules through the transport seam: a fake gateway behind httpx2.MockTransport, no Node.

The same rules run against the real gateway in tests/integration/test_routing_gateway.py; here each
branch of the loop is driven directly, in milliseconds.
"""

from __future__ import annotations

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
