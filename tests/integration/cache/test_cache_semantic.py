"""The semantic cache with the real local embedder (all-MiniLM-L6-v2): paraphrases hit, near misses miss."""

from __future__ import annotations

import uuid

import pytest

from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory

PARAPHRASES = [
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("How do I reverse a list in Python?", "How can I reverse a list in Python?"),
    ("Summarize the key risks of entering the European electric vehicle market.",
     "Summarise the main risks of entering the European electric vehicle market."),
    ("Explain the difference between a process and a thread.",
     "What is the difference between a process and a thread?"),
]

NEAR_MISSES = [
    ("What is the capital of France?", "What is the capital of Spain?"),
    ("Review this function for bugs:\ndef average(xs):\n    return sum(xs) / len(xs)",
     "Review this function for bugs:\ndef average(values):\n    return sum(values) / max(len(values), 1)"),
    ("Please review the following function for bugs: def parse_date(s): return datetime.strptime(s, '%Y-%m-%d')",
     "Please review the following function for bugs: def parse_time(s): return datetime.strptime(s, '%H:%M')"),
    ("What was our revenue growth in Q3 2024?", "What was our revenue growth in Q4 2024?"),
    ("What are the main benefits of using TypeScript over JavaScript?",
     "What are the main benefits of using JavaScript over TypeScript?"),
    ("Summarize the key risks of entering the European electric vehicle market.",
     "Summarize the key risks of entering the Asian electric vehicle market."),
    ("Is coffee good for your health?", "Is coffee bad for your health?"),
    ("How can we increase customer churn?", "How can we reduce customer churn?"),
]


def single(text: str, system: str | None = None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": text}]


@pytest.fixture
def manager(make_manager):
    # A system prompt unique to the test keeps its entries apart from every other test's.
    return make_manager(semantic_cache=True)


@pytest.fixture
def system() -> str:
    return f"You are a helpful assistant ({uuid.uuid4().hex[:8]})."


async def complete(manager, messages, **kwargs):
    return await manager.acreate_completion(provider="openai", model="gpt-4o", messages=messages,
                                            fallbacks=[], **kwargs)


@pytest.mark.parametrize(("cached", "asked"), PARAPHRASES)
async def test_paraphrases_hit(manager, system, calls, cached, asked):
    first = await complete(manager, single(cached, system))
    second = await complete(manager, single(asked, system))
    assert second.routing.cached == "semantic_hit" and second.content == first.content
    assert calls("openai") == 1


@pytest.mark.parametrize(("cached", "asked"), NEAR_MISSES)
async def test_near_misses_miss(manager, system, calls, cached, asked):
    await complete(manager, single(cached, system))
    second = await complete(manager, single(asked, system))
    assert second.routing.cached is None
    assert calls("openai") == 2


async def test_the_embedding_alone_would_answer_antonyms(manager):
    """Why literals exist: these pairs score above the 0.95 threshold, and the tests above see them miss."""
    from app.cache.literals import normalise

    for cached, asked in [NEAR_MISSES[-2], NEAR_MISSES[-1], NEAR_MISSES[4]]:
        a, b = await manager.cache.embedder.embed([normalise(cached), normalise(asked)])
        assert sum(x * y for x, y in zip(a, b, strict=True)) >= manager.settings.semantic_cache_threshold


async def test_scope_is_domain_role_model_and_system_prompt(manager, system, calls):
    question, paraphrase = PARAPHRASES[0]
    await complete(manager, single(question, system))
    assert (await complete(manager, single(paraphrase, system + " Be brief."))).routing.cached is None
    other_model = await manager.acreate_completion(provider="openai", model="gpt-4o-mini", fallbacks=[],
                                                   messages=single(paraphrase, system))
    assert other_model.routing.cached is None
    other_role = await complete(manager, single(paraphrase, system), metadata={"domain": "sophia", "role": "x"})
    assert other_role.routing.cached is None
    assert (await complete(manager, single(paraphrase, system), max_tokens=20)).routing.cached is None
    assert calls("openai") == 5


async def test_only_single_turn_conversations_qualify(manager, system, calls):
    question, paraphrase = PARAPHRASES[0]
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    await complete(manager, [*history, {"role": "user", "content": question}])
    again = await complete(manager, [*history, {"role": "user", "content": paraphrase}])
    assert again.routing.cached is None and calls("openai") == 2


async def test_semantic_cache_is_off_by_default(make_manager, system, calls):
    question, paraphrase = PARAPHRASES[0]
    manager = make_manager()
    await complete(manager, single(question, system))
    assert (await complete(manager, single(paraphrase, system))).routing.cached is None
    assert calls("openai") == 2


async def test_per_call_flag_turns_it_on_and_off(make_manager, system, calls):
    question, paraphrase = PARAPHRASES[1]
    manager = make_manager()
    await complete(manager, single(question, system), semantic_cache=True)
    assert (await complete(manager, single(paraphrase, system), semantic_cache=True)).routing.cached \
        == "semantic_hit"
    on_globally = make_manager(semantic_cache=True)
    await complete(on_globally, single(question, system))
    assert (await complete(on_globally, single(paraphrase, system), semantic_cache=False)).routing.cached is None


async def test_per_role_opt_in_for_agents(make_manager, calls):
    tag = uuid.uuid4().hex[:6]
    factory = SophiaFactory(make_manager(semantic_cache_roles=["sophia/market_analyst"], memory_enabled=False))
    analyst = await factory.create_business_agent(f"analyst-{tag}", BusinessAgentRole.MARKET_ANALYST, "EV")
    first = await factory.generate_business_insight(analyst, "What is the capital of France?")
    second = await factory.generate_business_insight(analyst, "Which city is the capital of France?")
    assert first.execution.cached is None
    assert second.execution.cached == "semantic_hit" and second.execution.cost_usd == 0.0
    assert calls() == 1
