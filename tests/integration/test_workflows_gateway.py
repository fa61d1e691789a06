"""Both built-in workflows end to end on the real gateway and the provider simulators: one trace id in
the analytics for every call, a step whose primary fails and falls back, steps whose whole chain fails
(skipped, or failing the run), a budget cut, a deadline cut, a cancellation that ends the calls in
flight at the providers, repeated runs served from the cache, and steps that remember."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.analytics import AnalyticsStore
from app.artemis.portkey_unified_factory import ArtemisFactory
from app.core.errors import AllProvidersFailedError, WorkflowFailedError
from app.memory import AgentMemory, BatchingEmbedder
from app.memory.prompting import HEADER
from app.sophia.portkey_unified_factory import SophiaFactory
from app.vectors.qdrant import QdrantStore
from app.workflows import RunFinished, StepFinished, run_workflow
from app.workflows.builtin import MarketBrief, SecurityReport
from app.workflows.recording import recorder
from tests.support import eventually, in_flight_is

CODE = """import hashlib
import sqlite3

def login(db: sqlite3.Connection, user: str, password: str) -> bool:
    row = db.execute(f"SELECT hash FROM users WHERE name = '{user}'").fetchone()
    return bool(row) and row[0] == hashlib.md5(password.encode()).hexdigest()
"""
SECURITY_INPUT = {"code": CODE, "language": "python", "filename": "auth.py"}
MARKET_INPUT = {"topic": "public EV charging networks", "region": "EU", "audience": "the board"}
PARALLEL_PRIMARIES = ("groq", "anthropic", "deepseek")  # scan, audit, performance


@dataclass
class Agents:
    artemis: ArtemisFactory
    sophia: SophiaFactory
    analytics: AnalyticsStore

    async def run(self, name: str, data: Any, **kwargs: Any) -> Any:
        return await run_workflow(name, data, artemis=self.artemis, sophia=self.sophia,
                                  on_event=kwargs.pop("on_event", recorder(self.analytics)), **kwargs)


@pytest.fixture
async def agents(make_manager, simulators, tmp_path: Path) -> AsyncIterator[Agents]:
    """Both factories on a fresh manager (its own cache) whose calls go to an analytics store."""
    await simulators.control.areset_stats()
    manager = make_manager(request_timeout=30)
    analytics = await AnalyticsStore(f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}").start()
    manager.observers.add(analytics.observe)
    yield Agents(ArtemisFactory(manager), SophiaFactory(manager), analytics)
    await analytics.aclose()
    await manager.aclose()


async def totals(simulators) -> dict[str, int]:
    return {name: s["total"] for name, s in (await simulators.control.astats()).items()}


async def test_security_review_end_to_end_with_one_trace_id_in_the_analytics(agents, simulators):
    result = await agents.run("security_review", SECURITY_INPUT)
    assert result.status == "completed" and not result.partial and result.error is None
    served = {s.name: (s.status, s.routing.provider, s.routing.trace_id) for s in result.steps}
    assert served == {"scan": ("completed", "groq", result.trace_id), "audit": ("completed", "anthropic", result.trace_id),
                      "performance": ("completed", "deepseek", result.trace_id),
                      "report": ("completed", "openai", result.trace_id)}
    assert isinstance(result.output, SecurityReport) and result.output.findings[0].line == 1
    assert result.cost_usd == pytest.approx(sum(s.cost_usd for s in result.steps)) and result.cost_usd > 0
    assert result.usage.total_tokens == sum(s.usage.total_tokens for s in result.steps) > 0
    report_prompt = json.dumps((await simulators.control.astats("openai"))["last_body"]["messages"])
    assert "Findings of the scan review" in report_prompt and "[groq/llama-3.3-70b-versatile] title" in report_prompt

    await agents.analytics.flush()
    calls = await agents.analytics.calls_of(result.trace_id)
    assert sorted(c["provider"] for c in calls) == ["anthropic", "deepseek", "groq", "openai"]
    assert {c["role"] for c in calls} == {"vulnerability_scanner", "security_auditor", "performance_optimizer",
                                         "code_reviewer"}
    run = await agents.analytics.run(result.trace_id)
    assert run is not None and run["workflow"] == "security_review" and run["status"] == "completed"
    assert [s["name"] for s in run["steps"]] == [s.name for s in result.steps]
    assert run["cost_usd"] == pytest.approx(result.cost_usd)


async def test_market_brief_end_to_end_keeps_the_citations_and_reviews_the_tone_once(agents, simulators):
    events: list = []
    result = await agents.run("market_brief", MARKET_INPUT, on_event=events.append)
    assert result.status == "completed"
    assert [(s.name, s.routing.provider) for s in sorted(result.steps, key=lambda s: s.started_ms)] == [
        ("market", "perplexity"), ("finance", "deepseek"), ("recommend", "openai"), ("tone", "anthropic"),
        ("recommend#2", "openai")]  # the simulated reviewer does not approve: one revision, then it stops
    web = [c for c in result.citations if c.startswith("https://example.com/simulated/")]
    assert len(web) == 2 and result.step("market").citations[:2] == web  # Perplexity's citations, kept
    assert isinstance(result.output, MarketBrief) and result.output.summary == "[openai/gpt-4o] summary"
    strategist = (await simulators.control.astats("openai"))["last_body"]["messages"][-1]["content"]
    assert "Address each of these comments" in strategist and "[anthropic/claude-sonnet-4-5] comments" in strategist
    assert web[0] in strategist  # the analysts' sources reach the strategist
    # A step asks for its own schema only: the role's insight shape ("with the keys: summary, ...") would
    # contradict it, and a reviewer answering the insight shape would read as a rejection.
    analyst = (await simulators.control.astats("perplexity"))["last_body"]  # OpenAI's wire format
    reviewer = (await simulators.control.astats("anthropic"))["last_body"]  # Anthropic's: the system apart
    for system, user in ((analyst["messages"][0]["content"], analyst["messages"][1]["content"]),
                         (json.dumps(reviewer["system"]), reviewer["messages"][0]["content"])):
        assert "validates against this JSON Schema" in json.dumps(user) and "Question:" not in json.dumps(user)
        assert system and "Answer in JSON only" not in system
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert finished[-1].cost_usd == pytest.approx(result.cost_usd) and isinstance(events[-1], RunFinished)


async def test_a_step_whose_primary_fails_falls_back(agents, simulators):
    await simulators.control.aset_fault("groq", status=503)
    result = await agents.run("security_review", SECURITY_INPUT)
    scan = result.step("scan")
    assert result.status == "completed" and scan.status == "completed"
    assert scan.routing.provider == "together" and scan.routing.fallback_used
    assert [(a.provider, a.status) for a in scan.routing.attempts] == [("groq", 503), ("together", 200)]


async def test_a_step_whose_whole_chain_fails_is_skipped_when_its_definition_says_so(agents, simulators):
    for provider in ("groq", "together", "mistral"):  # the vulnerability scanner's chain
        await simulators.control.aset_fault(provider, status=500)
    result = await agents.run("security_review", SECURITY_INPUT)
    scan = result.step("scan")
    assert result.status == "completed" and scan.status == "skipped" and scan.routing is None
    assert "AllProvidersFailedError" in scan.error and "groq/llama-3.3-70b-versatile: 500" in scan.error
    assert result.step("report").status == "completed"
    report_prompt = (await simulators.control.astats("openai"))["last_body"]["messages"][-1]["content"]
    assert "The scan review has no findings to merge: skipped after AllProvidersFailedError" in report_prompt


async def test_a_step_that_must_not_fail_fails_the_run_with_what_it_had(agents, simulators):
    for provider in ("openai", "anthropic", "deepseek"):  # the code reviewer's chain
        await simulators.control.aset_fault(provider, status=503)
    with pytest.raises(WorkflowFailedError) as failed:
        await agents.run("security_review", SECURITY_INPUT)
    assert failed.value.step == "report" and isinstance(failed.value.__cause__, AllProvidersFailedError)
    result = failed.value.result
    assert result.status == "failed" and result.partial and result.output is None
    assert {s.name: s.status for s in result.steps} == {"scan": "completed", "audit": "skipped",
                                                       "performance": "completed", "report": "failed"}
    assert result.step("performance").routing.provider == "groq"  # deepseek failed, its fallback served
    await agents.analytics.flush()
    assert (await agents.analytics.run(result.trace_id))["status"] == "failed"


async def test_the_budget_cuts_the_run_before_the_next_step(agents, simulators):
    result = await agents.run("security_review", SECURITY_INPUT, budget_usd=0.0005)
    assert result.status == "partial" and result.partial and result.stopped == "budget"
    assert sorted(s.name for s in result.steps) == ["audit", "performance", "scan"]
    assert result.cost_usd > 0.0005 and result.output is None
    assert (await totals(simulators))["openai"] == 0  # the report step never started


async def test_the_deadline_cuts_the_run_and_ends_the_call_in_flight(agents, simulators):
    await simulators.control.aset_fault("openai", mode="stall_headers")  # the report step's primary never answers
    result = await agents.run("security_review", SECURITY_INPUT, deadline_s=8)
    assert result.status == "partial" and result.stopped == "deadline"
    assert {s.name: s.status for s in result.steps} == {"scan": "completed", "audit": "completed",
                                                       "performance": "completed", "report": "cancelled"}
    assert 8000 <= result.duration_ms < 20_000 and result.step("scan").output is not None
    await eventually(lambda: in_flight_is(simulators, "openai", 0), "the stalled call ended at the provider")


async def test_cancelling_a_run_ends_its_calls_at_the_providers_and_starts_no_new_ones(agents, simulators):
    for provider in PARALLEL_PRIMARIES:
        await simulators.control.aset_fault(provider, mode="stall_headers")
    events: list = []
    task = asyncio.create_task(agents.run("security_review", SECURITY_INPUT, on_event=events.append))
    for provider in PARALLEL_PRIMARIES:
        await eventually(lambda p=provider: in_flight_is(simulators, p, 1), f"a step's call reached {provider}")
    before = await totals(simulators)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for provider in PARALLEL_PRIMARIES:
        await eventually(lambda p=provider: in_flight_is(simulators, p, 0), f"{provider} saw its call end")
    # A fallback (together, openai, groq...) would start within milliseconds of an ended attempt.
    await asyncio.sleep(1.0)  # an observation window for something that must not happen, not a wait for it
    assert await totals(simulators) == before
    assert isinstance(events[-1], RunFinished) and events[-1].result.status == "cancelled"
    assert {s.status for s in events[-1].result.steps} == {"cancelled"}


async def test_a_repeated_run_is_served_from_the_cache_step_by_step(agents, simulators):
    first = await agents.run("market_brief", MARKET_INPUT)
    before = await totals(simulators)
    second = await agents.run("market_brief", MARKET_INPUT)
    assert await totals(simulators) == before  # not one provider call
    assert [s.routing.cached for s in second.steps] == ["hit"] * len(first.steps)
    assert second.output == first.output and second.cost_usd == 0 and second.trace_id != first.trace_id
    assert [s.name for s in second.steps] == [s.name for s in first.steps]


async def test_steps_remember_and_recall_like_single_calls(make_manager, simulators, local_embedder, tmp_path):
    store = QdrantStore(path=tmp_path / "qdrant")
    memory = AgentMemory(store, BatchingEmbedder(local_embedder))
    manager = make_manager()
    artemis, sophia = ArtemisFactory(manager, memory=memory), SophiaFactory(manager, memory=memory)
    try:
        first = await run_workflow("security_review", SECURITY_INPUT, artemis=artemis, sophia=sophia)
        before = await totals(simulators)
        repeated = await run_workflow("security_review", SECURITY_INPUT, artemis=artemis, sophia=sophia)
        assert await totals(simulators) == before and repeated.output == first.output  # memory on: still hits
        assert {s.routing.cached for s in repeated.steps} == {"hit"}
        auditor = artemis.get_agent("security_review.audit")
        remembered = await memory.list_memories(auditor.id)
        assert len(remembered) == 1 and remembered[0].source == "exchange" and "auth.py" in remembered[0].text
        again = dict(SECURITY_INPUT, filename="auth_v2.py")  # a new task: recalls what the step saw before
        await run_workflow("security_review", again, artemis=artemis, sophia=sophia)
        system = json.dumps((await simulators.control.astats("anthropic"))["last_body"]["system"])
        assert HEADER in system and "auth.py" in system  # the first run's exchange, recalled into the prompt
    finally:
        await manager.aclose()
        store.close()
