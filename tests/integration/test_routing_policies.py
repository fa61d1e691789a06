"""Routing policies on the real gateway (pinned 1.15.2) and the simulators: weights, sticky variants,
conditional rules, complexity routing, nested strategies, roles added by file, provider options."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.agents.base import AgentFactoryBase
from app.artemis.portkey_unified_factory import ArtemisFactory
from app.core.errors import InvalidRequestError
from app.routing.sticky import sticky_choice
from app.simulators import Fault
from app.sophia.portkey_unified_factory import SophiaFactory
from tests.unit.test_routing_file import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
HELLO = [{"role": "user", "content": "Hello"}]

POLICIES = EXAMPLE + """\
  weights:
    strategy: loadbalance
    targets:
      - {target: openai/gpt-4o-mini, weight: 0.8}
      - {target: groq/llama-3.1-8b-instant, weight: 0.2}
  rules:
    strategy: conditional
    conditions:
      - query: {$or: [{metadata.tier: {$in: [gold, premium]}}, {metadata.user_id: {$regex: '^vip-'}}]}
        then: {target: anthropic/claude-sonnet-4-5, name: premium}
      - query: {params.max_tokens: {$gt: 1000}}
        then: {target: mistral/mistral-large-latest, name: long}
    default: {target: groq/llama-3.1-8b-instant}
  by_label:
    strategy: conditional
    conditions:
      - query: {metadata.complexity: {$eq: complex}}
        then: {target: openai/gpt-4o}
    default: {target: groq/llama-3.1-8b-instant}
  nested:
    strategy: fallback
    targets:
      - {target: anthropic/claude-sonnet-4-5}
      - strategy: loadbalance
        sticky: metadata.user_id
        targets:
          - {name: a, weight: 1, strategy: fallback, targets: [{target: openai/gpt-4o-mini}, {target: mistral}]}
          - {name: b, weight: 1, target: groq/llama-3.1-8b-instant}
  cached_prompts:
    target: anthropic/claude-sonnet-4-5
  recent_news:
    target: perplexity/sonar
    override_params: {search_domain_filter: [reuters.com, ft.com], search_recency_filter: week}
"""


@pytest.fixture(scope="module")
def routing_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("routing") / "routing.yaml"
    pricing = ("  sophia/pricing_analyst:\n    description: prices products\n"
               "    system_prompt: You are {name}, a pricing analyst in {focus}.\n    target: deepseek/deepseek-chat\n")
    path.write_text(POLICIES.replace("roles:\n", "roles:\n" + pricing, 1))
    return path


@pytest.fixture
def manager(make_manager: Any, routing_file: Path) -> Any:
    return make_manager(sophia_routing_file=str(routing_file), cache_ttl=0)


async def _many(manager: Any, route: str, count: int, concurrency: int = 32, **kw: Any) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await manager.acreate_completion(route=route, messages=[{"role": "user", "content": f"q{i}"}], **kw)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def test_the_gateway_honours_loadbalance_weights_over_thousands_of_calls(manager):
    answers = await _many(manager, "weights", 3000)
    variants = Counter(a.routing.variant for a in answers)
    share = variants["openai/gpt-4o-mini"] / 3000
    # 3,000 draws of p=0.8: one standard deviation is 0.73 points; 3 points is four of them
    assert abs(share - 0.8) < 0.03, variants
    assert all(a.routing.provider == a.routing.variant.split("/")[0] and a.routing.route == "weights" for a in answers)
    assert not any(a.routing.fallback_used for a in answers)  # a variant is a choice, not a fallback


def sticky_probe(gateway_url: str, base_urls: str, routing_file: str) -> None:
    """Run in another process: the variant each of 60 users gets, through the gateway (printed as JSON)."""
    from app.core.settings import load_settings
    from app.runtime import build_manager
    from app.sandbox import simulated_env

    env = {k.lower(): v for k, v in simulated_env(gateway_url, json.loads(base_urls)).items()}
    manager = build_manager(load_settings(_env_file=None, max_retries=0, cache_ttl=0, sophia_routing_file=routing_file,
                                          **env))
    seen = {}
    for i in range(60):
        routing = manager.create_completion(route="support_ab", messages=HELLO, metadata={"user_id": f"user-{i}"}).routing
        seen[f"user-{i}"] = [routing.variant, f"{routing.provider}/{routing.model}"]
    print(json.dumps(seen))


def test_sticky_assignment_is_stable_across_two_processes(gateway, simulators, routing_file):
    code = ("import sys; from tests.integration.test_routing_policies import sticky_probe; "
            "sticky_probe(*sys.argv[1:])")
    runs = []
    for seed in ("1", "2"):  # two interpreters with different hash seeds: Python's hash() would differ
        out = subprocess.run([sys.executable, "-c", code, gateway.url, json.dumps(simulators.base_urls),
                              str(routing_file)], capture_output=True, text=True, check=True, cwd=ROOT,
                             env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)})
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1]
    names = ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant")
    for user, (variant, served) in runs[0].items():
        assert variant == served == names[sticky_choice("support_ab", user, (0.8, 0.2))]  # the gateway served it
    assert {v for v, _ in runs[0].values()} == set(names)


async def test_conditional_rules_choose_by_metadata_and_params(manager):
    async def served(metadata: dict[str, str] | None = None, **params: Any) -> str:
        answer = await manager.acreate_completion(route="rules", messages=HELLO, metadata=metadata, **params)
        return answer.routing.provider

    assert await served({"tier": "gold"}) == "anthropic"
    assert await served({"tier": "free", "user_id": "vip-7"}) == "anthropic"
    assert await served({"tier": "free"}, max_tokens=2000) == "mistral"
    assert await served({"tier": "free"}, max_tokens=50) == "groq"
    assert await served() == "groq"
    tiered = await manager.acreate_completion(route="tiered", messages=HELLO, metadata={"tier": "premium"})
    assert (tiered.routing.provider, tiered.routing.route, tiered.routing.variant) == ("anthropic", "tiered", None)


async def test_complexity_routing_on_the_shipped_labelled_set(manager):
    rows = [json.loads(line) for line in (DATA / "complexity_prompts.jsonl").read_text().splitlines()]
    gate = asyncio.Semaphore(16)

    async def route(prompt: str) -> Any:
        async with gate:
            return await manager.acreate_completion(route="smart", messages=[{"role": "user", "content": prompt}],
                                                    max_tokens=20)

    answers = await asyncio.gather(*(route(r["prompt"]) for r in rows))
    right = sum((a.routing.provider == ("openai" if r["label"] == "complex" else "groq")) for a, r in zip(answers, rows,
                                                                                                        strict=True))
    assert right / len(rows) >= 0.95
    assert all(a.routing.complexity == ("complex" if a.routing.provider == "openai" else "simple") for a in answers)


async def test_a_conditional_rule_reads_the_complexity_label(manager, simulators):
    simulators.control.reset_stats()
    design = "Design a multi-region rate limiter and compare the trade-offs of token buckets versus sliding windows."
    answer = await manager.acreate_completion(route="by_label", messages=[{"role": "user", "content": design}])
    assert (answer.routing.provider, answer.routing.complexity) == ("openai", "complex")
    lookup = await manager.acreate_completion(route="by_label", messages=[{"role": "user", "content": "What is 2+2?"}])
    assert (lookup.routing.provider, lookup.routing.complexity) == ("groq", "simple")


def _user_for(variant: int) -> str:
    return next(f"u{i}" for i in range(100) if sticky_choice("nested.targets[1]", f"u{i}", (1, 1)) == variant)


async def test_nested_strategies_report_the_variant_and_fail_over_inside_it(manager, simulators):
    simulators.control.set_fault("anthropic", Fault(status=503))
    answer = await manager.acreate_completion(route="nested", messages=HELLO, metadata={"user_id": _user_for(1)})
    assert (answer.routing.provider, answer.routing.variant) == ("groq", "b") and answer.routing.fallback_used
    assert [a.describe() for a in answer.routing.attempts] == ["anthropic/claude-sonnet-4-5: 503",
                                                               "groq/llama-3.1-8b-instant: 200"]
    # An unreadable answer inside variant a: the gateway stops; our loop goes on with that variant's fallback.
    simulators.control.set_fault("openai", Fault(mode="malformed"))
    answer = await manager.acreate_completion(route="nested", messages=HELLO, metadata={"user_id": _user_for(0)})
    assert (answer.routing.provider, answer.routing.variant) == ("mistral", "a")
    assert [a.provider for a in answer.routing.attempts] == ["anthropic", "openai", "mistral"]
    assert answer.routing.attempts[1].error == "malformed response" and answer.routing.served_index == 2


async def test_a_role_added_by_the_file_works_in_both_factories_and_health(manager, simulators):
    artemis, sophia = ArtemisFactory(manager), SophiaFactory(manager)
    simulators.control.reset_stats()
    writer = await artemis.create_agent_with_portkey(name="Tester", role="test_writer", specialty="pytest")
    assert writer.role == "test_writer" and writer.system_prompt == "You write focused, runnable pytest tests."
    result = await artemis.execute_with_portkey(writer, "def add(a, b): return a + b", max_tokens=50)
    assert (result.provider, result.role) == ("openai", "test_writer")
    assert simulators.control.stats()["openai"]["last_body"]["messages"][0]["content"] == writer.system_prompt
    pricing = await sophia.create_business_agent(name="Pricer", role="PRICING_ANALYST", business_domain="saas")
    insight = await sophia.generate_business_insight(pricing, "Should we raise prices?", {"churn": 0.02})
    assert insight.execution.provider == "deepseek" and insight.confidence == 0.8  # the default JSON answer shape
    assert pricing.system_prompt.startswith("You are Pricer, a pricing analyst in saas. Answer in JSON only")
    with pytest.raises(InvalidRequestError, match=r"SECURITY_AUDITOR, .*VULNERABILITY_SCANNER, test_writer$"):
        await artemis.create_agent_with_portkey("X", "wizard", "y")  # unknown: the error lists the known ones
    with pytest.raises(InvalidRequestError, match=r"pricing_analyst$"):
        await sophia.create_business_agent("X", "test_writer", "y")  # an Artemis role is not a Sophia one
    health = await artemis.health_check(force=True)
    assert health["details"]["roles"]["artemis/test_writer"]["healthy"]
    assert isinstance(artemis, AgentFactoryBase) and "test_writer" in artemis.roles


async def test_anthropic_prompt_caching_reads_the_cached_prefix_on_the_second_call(manager, simulators):
    system = {"role": "system", "content": " ".join(f"rule{i}" for i in range(1500))}  # > 1,024 tokens
    messages = [system, {"role": "user", "content": "Summarise the rules."}]
    first = await manager.acreate_completion(route="cached_prompts", messages=messages)
    second = await manager.acreate_completion(route="cached_prompts", messages=messages)
    sent = simulators.control.stats()["anthropic"]["last_body"]["system"]
    assert sent[0]["cache_control"] == {"type": "ephemeral"}
    assert first.usage.model_extra["cache_creation_input_tokens"] == 1500
    assert second.usage.model_extra["cache_read_input_tokens"] == 1500 and second.usage.prompt_tokens == 3
    from app.core.pricing import usage_cost

    assert usage_cost("anthropic", "claude-sonnet-4-5", second.usage) < usage_cost("anthropic", "claude-sonnet-4-5",
                                                                                 first.usage)
    # A chain that may fall back to an OpenAI-wire provider is sent no marker (OpenAI-wire APIs reject it).
    simulators.control.set_fault("anthropic", Fault(status=529))
    fallback = await manager.acreate_completion(provider="anthropic", fallbacks=["openai"], messages=messages)
    assert fallback.routing.provider == "openai"
    assert "cache_control" not in simulators.control.stats()["openai"]["last_body"]["messages"][0]


async def test_perplexity_search_options_reach_perplexity_only(manager, simulators):
    answer = await manager.acreate_completion(route="recent_news", messages=HELLO)
    body = simulators.control.stats()["perplexity"]["last_body"]
    assert body["search_domain_filter"] == ["reuters.com", "ft.com"] and body["search_recency_filter"] == "week"
    assert [c.split("/")[2] for c in answer.model_extra["citations"]] == ["reuters.com", "ft.com"]
    await manager.acreate_completion(route="recent_news", messages=HELLO, search_recency_filter="day")
    assert simulators.control.stats()["perplexity"]["last_body"]["search_recency_filter"] == "day"  # the caller's wins
    analyst = await SophiaFactory(manager).create_business_agent("Analyst", "market_analyst", "tech")
    await SophiaFactory(manager).generate_business_insight(analyst, "AI adoption trends?", {})
    assert simulators.control.stats()["perplexity"]["last_body"]["search_recency_filter"] == "month"


async def test_cached_answers_keep_to_the_branch_the_rules_chose(make_manager, routing_file):
    manager = make_manager(sophia_routing_file=str(routing_file))  # the response cache is on
    ask = [{"role": "user", "content": "Cache me"}]
    premium = await manager.acreate_completion(route="tiered", messages=ask, metadata={"tier": "premium"})
    again = await manager.acreate_completion(route="tiered", messages=ask, metadata={"tier": "premium"})
    assert again.routing.cached == "hit" and again.routing.route == "tiered" and again.content == premium.content
    free = await manager.acreate_completion(route="tiered", messages=ask, metadata={"tier": "free"})
    assert free.routing.cached is None and free.routing.provider == "groq"  # not the premium branch's answer
    stream = await manager.acreate_completion(route="tiered", messages=ask, metadata={"tier": "free"}, stream=True)
    assert "".join([c.text async for c in stream]) == free.content
    assert (stream.routing.cached, stream.routing.route) == ("hit", "tiered")


async def test_open_circuits_are_tried_last_inside_a_strategy_tree(make_manager, routing_file, simulators):
    manager = make_manager(sophia_routing_file=str(routing_file), cache_ttl=0, circuit_min_requests=2)
    simulators.control.set_fault("anthropic", Fault(status=503))
    user = {"user_id": _user_for(1)}
    for _ in range(2):  # two failed attempts on the fallback's first target open its circuit
        answer = await manager.acreate_completion(route="nested", messages=HELLO, metadata=user)
        assert answer.routing.attempts[0].provider == "anthropic"
    answer = await manager.acreate_completion(route="nested", messages=HELLO, metadata=user)
    routing = answer.routing
    assert routing.circuit_open == ["anthropic/claude-sonnet-4-5"]
    assert [a.provider for a in routing.attempts] == ["groq"]  # the open target went last, and was not needed
    assert (routing.provider, routing.variant, routing.served_index) == ("groq", "b", 1)  # its number in the tree
