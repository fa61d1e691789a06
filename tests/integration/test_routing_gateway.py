"""The routing core end to end: manager -> real Portkey gateway -> provider simulators."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from app.core.errors import (
    AllProvidersFailedError,
    GatewayUnavailableError,
    ProviderError,
    ProviderNotConfiguredError,
    RateLimitError,
    StreamInterruptedError,
)
from app.core.manager import PortkeyManager
from app.core.providers import PROVIDERS
from app.core.settings import load_settings
from app.simulators import Fault

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_every_provider_end_to_end_through_the_gateway(make_manager, simulators, provider):
    manager = make_manager()
    response = manager.create_completion(provider=provider, messages=HELLO, fallbacks=[], max_tokens=50)
    model = PROVIDERS[provider].chat_model
    assert response.choices[0].message.content.startswith(f"[{provider}/{model}]")
    assert response.routing.provider == provider and response.routing.model == model
    assert not response.routing.fallback_used
    assert [a.describe() for a in response.routing.attempts] == [f"{provider}/{model}: 200"]
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0
    if provider == "perplexity":
        assert response.model_extra["citations"]


def test_anthropic_gets_its_own_wire_format(make_manager, simulators):
    simulators.control.reset_stats()
    make_manager().create_completion(provider="anthropic", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], fallbacks=[])
    stats = simulators.control.stats()["anthropic"]
    assert any(path.endswith("/messages") for path in stats["requests"])
    assert "x-api-key" in stats["last_headers"]
    assert stats["last_body"]["system"]  # the system prompt moved out of messages, as Anthropic requires


def test_model_choice_reaches_the_provider(make_manager, simulators):
    simulators.control.reset_stats()
    make_manager().create_completion(provider="openai", model="gpt-4-turbo", messages=HELLO, fallbacks=[])
    assert simulators.control.stats()["openai"]["last_body"]["model"] == "gpt-4-turbo"


@pytest.mark.parametrize(
    "fault",
    [Fault(status=500), Fault(status=503), Fault(status=429, retry_after=1), Fault(mode="refuse"),
     Fault(mode="drop"), Fault(status=400)],
    ids=["500", "503", "429", "refused", "dropped", "400"],
)
def test_fallback_in_one_round_trip(make_manager, simulators, fault):
    simulators.control.set_fault("openai", fault)
    simulators.control.reset_stats()
    response = make_manager().create_completion(provider="openai", messages=HELLO, fallbacks=["anthropic"])
    assert response.routing.provider == "anthropic" and response.routing.fallback_used
    first, last = response.routing.attempts[0], response.routing.attempts[-1]
    assert first.provider == "openai" and not first.ok
    if fault.status:
        assert first.status == fault.status
    else:
        assert first.error
    assert last.describe() == "anthropic/claude-sonnet-4-5: 200"


def test_fallback_on_timeout(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(latency_ms=5000))
    started = time.perf_counter()
    response = make_manager(request_timeout=0.5).create_completion(provider="openai", messages=HELLO,
                                                                  fallbacks=["groq"])
    assert time.perf_counter() - started < 4
    assert response.routing.provider == "groq"
    assert response.routing.attempts[0].status == 408 or response.routing.attempts[0].error == "timeout"


def test_retries_then_recovers_on_the_same_target(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(status=429, retry_after=0, times=1))
    response = make_manager(max_retries=1).create_completion(provider="openai", messages=HELLO, fallbacks=["groq"])
    assert response.routing.provider == "openai" and not response.routing.fallback_used
    assert [a.describe() for a in response.routing.attempts] == ["openai/gpt-4o: 429", "openai/gpt-4o: 200"]


def test_the_call_id_tying_attempts_to_requests_never_reaches_a_provider(make_manager, simulators):
    # The preload tags each request with x-sophia-call (forwarded upstream by the gateway) and takes it off
    # every upstream fetch again, retries included.
    for provider in ("openai", "anthropic"):
        simulators.control.set_fault(provider, Fault(status=429, retry_after=0, times=1))
        simulators.control.reset_stats()
        response = make_manager(max_retries=1).create_completion(provider=provider, messages=HELLO, fallbacks=[])
        assert [a.status for a in response.routing.attempts] == [429, 200]
        headers = simulators.control.stats()[provider]["last_headers"]
        assert headers and "x-sophia-call" not in headers and "x-portkey-forward-headers" not in headers


async def test_concurrent_calls_get_their_own_attempts(make_manager, simulators):
    simulators.control.set_fault("mistral", Fault(status=503))
    manager = make_manager()
    chains = [("openai", []), ("groq", []), ("mistral", ["together"]), ("deepseek", [])] * 10
    answers = await asyncio.gather(*(manager.acreate_completion(provider=p, messages=HELLO, fallbacks=f)
                                     for p, f in chains))
    for (provider, fallbacks), answer in zip(chains, answers, strict=True):
        expected = [provider, *fallbacks]
        assert [a.provider for a in answer.routing.attempts] == expected


def test_all_fail_names_every_attempt_and_no_key(make_manager, simulators, sandbox_env):
    simulators.control.set_fault("openai", Fault(status=503))
    simulators.control.set_fault("anthropic", Fault(status=401))
    simulators.control.set_fault("deepseek", Fault(mode="refuse"))
    with pytest.raises(AllProvidersFailedError) as info:
        make_manager().create_completion(provider="openai", messages=HELLO)
    message = str(info.value)
    assert "openai/gpt-4o: 503" in message and "anthropic/claude-sonnet-4-5: 401" in message
    assert "deepseek/deepseek-chat: connection refused" in message
    assert [a.provider for a in info.value.attempts] == ["openai", "anthropic", "deepseek"]
    for key in (v for k, v in sandbox_env.items() if k.endswith("_API_KEY")):
        assert key not in message


def test_single_target_failure_is_keyed_on_status(make_manager, simulators):
    simulators.control.set_fault("groq", Fault(status=429, retry_after=7))
    with pytest.raises(RateLimitError) as info:
        make_manager().create_completion(provider="groq", messages=HELLO, fallbacks=[])
    assert info.value.status == 429 and info.value.provider == "groq"


def test_malformed_answer_falls_over_client_side(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(mode="malformed"))
    response = make_manager().create_completion(provider="openai", messages=HELLO, fallbacks=["mistral"])
    assert response.routing.provider == "mistral" and response.routing.fallback_used
    assert response.routing.attempts[0].error


def test_unconfigured_chain_fails_before_any_network_call(simulators):
    simulators.control.reset_stats()
    manager = PortkeyManager(load_settings(_env_file=None, portkey_base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ProviderNotConfiguredError, match="OPENAI_API_KEY"):
        manager.create_completion(provider="openai", messages=HELLO)
    assert all(not s["requests"] for s in simulators.control.stats().values())


def test_gateway_down_is_a_clear_error(sandbox_env):
    values = {k.lower(): v for k, v in sandbox_env.items()}
    values["portkey_base_url"] = "http://127.0.0.1:9/v1"
    manager = PortkeyManager(load_settings(_env_file=None, **values))
    with pytest.raises(GatewayUnavailableError, match="sophia gateway"):
        manager.create_completion(provider="openai", messages=HELLO)


def test_stream_delivers_chunks_and_routing(make_manager, simulators):
    stream = make_manager().create_completion(provider="anthropic", messages=HELLO, stream=True, fallbacks=[])
    chunks = list(stream)
    text = "".join(c.text for c in chunks)
    assert len(chunks) > 2 and text.startswith("[anthropic/claude-sonnet-4-5]")
    assert stream.routing.provider == "anthropic" and stream.routing.usage.total_tokens > 0


def test_stream_cut_before_first_chunk_continues_on_next_target(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(mode="cut_before_first_chunk"))
    stream = make_manager().create_completion(provider="openai", messages=HELLO, stream=True,
                                              fallbacks=["groq"])
    text = "".join(c.text for c in stream)
    assert text.startswith("[groq/")  # one clean answer, nothing from the broken stream
    assert stream.routing.provider == "groq" and stream.routing.fallback_used
    assert stream.routing.attempts[0].provider == "openai" and stream.routing.attempts[0].error


def test_stream_cut_after_content_raises_with_partial_text(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(mode="cut_after_first_chunk"))
    stream = make_manager().create_completion(provider="openai", messages=HELLO, stream=True,
                                              fallbacks=["groq"])
    received = ""
    with pytest.raises(StreamInterruptedError) as info:
        for chunk in stream:
            received += chunk.text
    assert received and info.value.partial_text == received
    assert "[groq/" not in received  # never spliced with another provider's answer


def test_stream_failing_upfront_falls_back_in_the_gateway(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(status=502))
    stream = make_manager().create_completion(provider="openai", messages=HELLO, stream=True,
                                              fallbacks=["deepseek"])
    assert "".join(c.text for c in stream).startswith("[deepseek/")


async def test_async_twin_shares_one_pool_under_concurrency(make_manager, simulators):
    manager = make_manager()
    results = await asyncio.gather(*(
        manager.acreate_completion(provider="groq", messages=[{"role": "user", "content": f"q{i}"}])
        for i in range(50)
    ))
    assert all(r.routing.provider == "groq" for r in results)
    assert manager.transport.pool_count == 1
    stream = await manager.acreate_completion(provider="mistral", messages=HELLO, stream=True)
    assert "".join([c.text async for c in stream]).startswith("[mistral/")


async def test_sync_api_works_inside_a_running_loop(make_manager, simulators):
    response = make_manager().create_completion(provider="together", messages=HELLO)
    assert response.routing.provider == "together"


def test_embeddings_are_batched_and_ordered(make_manager, simulators):
    manager = make_manager()
    simulators.control.reset_stats()
    texts = [f"document number {i}" for i in range(300)]
    result = manager.create_embedding(texts, batch_size=128)
    assert len(result.data) == 300 and [d.index for d in result.data] == list(range(300))
    assert simulators.control.stats()["openai"]["requests"]["/embeddings"] == 3
    single = manager.create_embedding(texts[200], provider="openai")
    assert single.vectors[0] == result.vectors[200]
    assert len(single.vectors[0]) == 1536
    mistral = manager.create_embedding(["a", "b"], provider="mistral")
    assert mistral.routing.provider == "mistral" and len(mistral.vectors[0]) == 1024


def test_no_key_reaches_logs_or_errors(make_manager, simulators, sandbox_env, caplog, gateway):
    caplog.set_level(logging.DEBUG)
    simulators.control.set_fault("openai", Fault(status=401))
    manager = make_manager()
    errors = []
    for call in (lambda: manager.create_completion(provider="openai", messages=HELLO, fallbacks=[]),
                 lambda: manager.create_completion(provider="openai", messages=HELLO, fallbacks=["groq"])):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - collecting the text of every error
            errors.append(repr(exc) + str(exc))
    keys = [v for k, v in sandbox_env.items() if k.endswith("_API_KEY")]
    gateway_log = gateway.log_path.read_text(errors="replace") if gateway.log_path.exists() else ""
    for text in (*errors, caplog.text, gateway_log, repr(manager.settings), repr(manager.router.resolutions)):
        for key in keys:
            assert key not in text


def test_every_call_is_reported_once_even_a_stream_closed_early(make_manager, simulators):
    manager = make_manager(cache_ttl=0)
    records = []
    manager.observers.add(records.append)
    manager.create_completion(provider="groq", messages=HELLO)
    stream = manager.create_completion(provider="groq", messages=HELLO, stream=True)
    next(iter(stream))
    stream.close()
    with pytest.raises(AllProvidersFailedError):
        simulators.control.set_fault("groq", Fault(status=500))
        manager.create_completion(provider="groq", messages=HELLO, fallbacks=["groq/llama-3.1-8b-instant"])
    assert [(r.kind, type(r.error).__name__ if r.error else None) for r in records] == [
        ("chat", None), ("chat_stream", "StreamClosedError"), ("chat", "AllProvidersFailedError")]


def test_a_failed_embedding_batch_fails_the_call(make_manager, simulators):
    simulators.control.set_fault("openai", Fault(status=400, times=1))
    with pytest.raises(ProviderError):
        make_manager(cache_ttl=0).create_embedding([f"text {i}" for i in range(300)], batch_size=100)
