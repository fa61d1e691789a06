"""The exact cache on the embedded backend, through the real gateway and simulators."""

from __future__ import annotations

import uuid

import pytest

from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.cache import MemoryBackend, ResponseCache
from app.core.errors import ProviderError, StreamInterruptedError
from app.simulators import Fault


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{text} [{uuid.uuid4().hex[:8]}]"}]


async def complete(manager, messages, **kwargs):
    return await manager.acreate_completion(provider="openai", model="gpt-4o", messages=messages,
                                            fallbacks=[], **kwargs)


async def test_second_identical_call_is_a_hit_without_network(make_manager, calls):
    manager = make_manager()
    records = []
    manager.observers.add(records.append)
    messages = ask("Hello")
    first = await complete(manager, messages, temperature=0.2)
    second = await complete(manager, messages, temperature=0.2)
    assert calls("openai") == 1
    assert first.routing.cached is None and second.routing.cached == "hit"
    assert second.content == first.content and second.routing.attempts == []
    assert (second.routing.provider, second.routing.model) == ("openai", "gpt-4o")
    assert second.routing.usage == first.routing.usage
    assert [r.routing.cached for r in records] == [None, "hit"]  # the hit is reported, once


async def test_anything_that_changes_the_answer_misses(make_manager, calls):
    manager = make_manager()
    messages = ask("Hello")
    await complete(manager, messages, temperature=0.2)
    await complete(manager, messages, temperature=0.3)
    await complete(manager, messages, temperature=0.2, max_tokens=50)
    await complete(manager, messages, temperature=0.2, trace_id="other-trace", metadata={"x": "1"})
    assert calls("openai") == 3  # trace id and metadata do not change the answer


async def test_skip_and_refresh(make_manager, calls):
    manager = make_manager()
    messages = ask("Hello")
    await complete(manager, messages)
    skipped = await complete(manager, messages, cache=False)
    refreshed = await complete(manager, messages, refresh=True)
    assert skipped.routing.cached is None and refreshed.routing.cached is None
    assert calls("openai") == 3
    assert (await complete(manager, messages)).routing.cached == "hit"


async def test_ttl_is_honoured(make_manager, calls):
    now = [1000.0]
    manager = make_manager(cache_ttl=60)
    manager.cache = ResponseCache(MemoryBackend(clock=lambda: now[0]), ttl=60)
    messages = ask("Hello")
    await complete(manager, messages)
    now[0] += 59.9
    assert (await complete(manager, messages)).routing.cached == "hit"
    now[0] += 0.2
    assert (await complete(manager, messages)).routing.cached is None
    assert calls("openai") == 2


async def test_ttl_zero_disables_the_cache(make_manager, calls):
    manager = make_manager(cache_ttl=0)
    messages = ask("Hello")
    await complete(manager, messages)
    assert (await complete(manager, messages)).routing.cached is None
    assert calls("openai") == 2


async def test_errors_are_never_cached(make_manager, simulators, calls):
    manager = make_manager()
    messages = ask("Hello")
    simulators.control.set_fault("openai", Fault(status=500, times=1))
    with pytest.raises(ProviderError):
        await complete(manager, messages)
    answer = await complete(manager, messages)
    assert answer.routing.cached is None and answer.content
    assert (await complete(manager, messages)).routing.cached == "hit"


async def test_a_finished_stream_is_cached_and_a_hit_replays_as_a_stream(make_manager, calls):
    manager = make_manager()
    records = []
    manager.observers.add(records.append)
    messages = ask("Tell me a story")
    stream = await complete(manager, messages, stream=True)
    live = [chunk async for chunk in stream]
    replayed_stream = await complete(manager, messages, stream=True)
    replayed = [chunk async for chunk in replayed_stream]
    assert calls("openai") == 1
    assert replayed_stream.text == stream.text and stream.text
    assert replayed_stream.routing.cached == "hit" and stream.routing.cached is None
    def finishes(chunks):
        return [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]

    assert finishes(replayed) == finishes(live) == ["stop"]
    assert replayed_stream.routing.usage.completion_tokens == stream.routing.usage.completion_tokens
    assert [(r.kind, r.routing.cached) for r in records] == [("chat_stream", None), ("chat_stream", "hit")]
    plain = await complete(manager, messages)  # a stream and a plain call share the entry
    assert plain.routing.cached == "hit" and plain.content == stream.text


async def test_a_plain_answer_replays_as_a_stream(make_manager, calls):
    manager = make_manager()
    messages = ask("Hello")
    answer = await complete(manager, messages)
    stream = await complete(manager, messages, stream=True)
    assert "".join([c.text async for c in stream]) == answer.content
    assert stream.routing.cached == "hit" and calls("openai") == 1


async def test_an_interrupted_stream_is_never_cached(make_manager, simulators, calls):
    manager = make_manager()
    messages = ask("Tell me a long story about caching")
    simulators.control.set_fault("openai", Fault(mode="cut_after_first_chunk", times=1))
    stream = await complete(manager, messages, stream=True)
    with pytest.raises(StreamInterruptedError):
        async for _ in stream:
            pass
    again = await complete(manager, messages, stream=True)
    assert [c async for c in again] and again.routing.cached is None
    assert calls("openai") == 2


async def test_a_stream_closed_early_is_never_cached(make_manager, calls):
    manager = make_manager()
    messages = ask("Tell me a long story about caching")
    stream = await complete(manager, messages, stream=True)
    async for _ in stream:
        break
    await stream.aclose()
    assert (await complete(manager, messages)).routing.cached is None
    assert calls("openai") == 2


async def test_agent_results_say_cached_and_cost_nothing(make_manager, calls):
    # Agent memory would recall the first exchange into the second prompt: a different request.
    factory = ArtemisFactory(make_manager(memory_enabled=False))
    agent = await factory.create_agent_with_portkey(f"cache-{uuid.uuid4().hex[:6]}",
                                                    TechnicalAgentRole.CODE_REVIEWER, "python")
    prompt = "Review: def f(x): return x"
    first = await factory.execute_with_portkey(agent, prompt, 200)
    second = await factory.execute_with_portkey(agent, prompt, 200)
    assert first.cached is None and first.cost_usd and first.cost_usd > 0
    assert second.cached == "hit" and second.cost_usd == 0.0 and second.content == first.content
    assert calls() == 1
    stored = [k for k in factory.manager.cache.backend._data if k.startswith(f"artemis:{agent.id}:")]
    assert len(stored) == 1 and len(stored[0].rsplit(":", 1)[1]) == 64


async def test_embeddings_are_cached_per_text(make_manager, calls):
    manager = make_manager()
    tag = uuid.uuid4().hex[:8]
    a, b, c = (f"{w} {tag}" for w in ("alpha", "beta", "gamma"))
    first = await manager.acreate_embedding([a, b], provider="openai")
    second = await manager.acreate_embedding([b, c, b], provider="openai")
    assert calls("openai") == 2
    assert calls.last_body("openai")["input"] == [c]  # only the text not seen before was sent
    assert second.vectors[0] == first.vectors[1] == second.vectors[2]
    assert [d.index for d in second.data] == [0, 1, 2] and second.routing.cached is None
    third = await manager.acreate_embedding([c, a], provider="openai")
    assert third.routing.cached == "hit" and third.routing.attempts == [] and calls("openai") == 2
    assert third.vectors == [second.vectors[1], first.vectors[0]]
    await manager.acreate_embedding([a], provider="openai", cache=False)
    await manager.acreate_embedding([a], provider="openai", refresh=True)
    assert calls("openai") == 4


def test_the_sync_api_uses_the_same_cache(make_manager, calls):
    manager = make_manager()
    messages = ask("Hello")
    first = manager.create_completion(provider="openai", model="gpt-4o", messages=messages, fallbacks=[])
    streamed = manager.create_completion(provider="openai", model="gpt-4o", messages=messages, fallbacks=[],
                                         stream=True)
    assert "".join(c.text for c in streamed) == first.content and streamed.routing.cached == "hit"
    assert manager.create_embedding("sync text", provider="openai").routing.cached is None
    assert manager.create_embedding("sync text", provider="openai").routing.cached == "hit"
    assert calls("openai") == 2
