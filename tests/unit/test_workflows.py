"""Workflows without the network: composition (sequence, parallel, review loop, branch), structured
outputs, skips and failures, the budget, the deadline, cancellation, events and the built-ins' shape."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel, Field

from app.core.errors import InvalidRequestError, StructuredOutputError, WorkflowFailedError
from app.workflows import (
    Branch,
    Parallel,
    Review,
    RunFinished,
    Step,
    StepFinished,
    StepStarted,
    Verdict,
    Workflow,
    coerce_input,
    run_workflow,
)
from app.workflows.builtin import MARKET_BRIEF, SECURITY_REVIEW, SecurityReport, numbered
from app.workflows.outputs import InvalidOutput, parse_output, schema_request
from tests.unit.workflow_fakes import ScriptedAgents, chain_failed


class Topic(BaseModel):
    topic: str
    depth: int = 1


class Notes(BaseModel):
    summary: str
    points: list[str]


class Kind(BaseModel):
    kind: str = Field(default="bug")
    urgent: bool = False


class Approving(Verdict):
    approved: bool = True


def flow(*steps, **kwargs) -> Workflow:
    return Workflow("test_flow", "a test", Topic, tuple(steps), **kwargs)


def step(name: str, role: str = "artemis/code_reviewer", **kwargs) -> Step:
    kwargs.setdefault("output", Notes)
    return Step(name, role, kwargs.pop("prompt", f"Do {name} about {{input.topic}}."), **kwargs)


async def run(workflow: Workflow, agents: ScriptedAgents, data=None, **kwargs):
    events: list = []
    result = await run_workflow(workflow, data or {"topic": "caching"}, caller=agents, on_event=events.append,
                                **kwargs)
    return result, events


# ----- composition -------------------------------------------------------------------------------------

async def test_parallel_steps_run_at_once_and_the_next_step_gets_their_outputs_in_its_prompt():
    agents = ScriptedAgents(barrier=asyncio.Barrier(2), meet=("a", "b"))  # a and b only pass together
    result, _ = await run(flow(Parallel((step("a"), step("b"))), step("merge")), agents)
    assert result.status == "completed" and not result.partial and [s.name for s in result.steps][-1] == "merge"
    merge_prompt = agents.prompts["merge"][0]
    assert merge_prompt.startswith("Do merge about caching.")
    assert "Output of step 'a' (artemis/code_reviewer):\n{" in merge_prompt and "'b'" in merge_prompt
    assert '"summary": "[a] summary"' in merge_prompt  # a's output, as JSON, explicitly in the prompt
    assert "JSON Schema" in merge_prompt and agents.prompts["a"][0].count("Output of step") == 0  # siblings unseen
    assert result.output == Notes(summary="[merge] summary", points=["[merge] points"])
    assert len(agents.trace_ids) == 1 and agents.trace_ids == {result.trace_id}  # one trace id for every call
    assert set(agents.agents) == {"test_flow.a", "test_flow.b", "test_flow.merge"}
    assert result.cost_usd == pytest.approx(0.003) and result.usage.total_tokens == 45


async def test_a_step_uses_only_what_it_names():
    agents = ScriptedAgents()
    await run(flow(step("a"), step("b"), step("c", uses=("a",))), agents)
    assert "'a'" in agents.prompts["c"][0] and "Output of step 'b'" not in agents.prompts["c"][0]


async def test_a_review_loop_sends_work_back_with_comments_within_its_rounds():
    agents = ScriptedAgents(script={"check": [{"approved": False, "comments": ["shorter", "no jargon"]}]})
    result, _ = await run(flow(Review(step("draft"), step("check", output=Verdict, uses=("draft",)), rounds=2)),
                          agents)
    assert [s.name for s in result.steps] == ["draft", "check", "draft#2", "check#2", "draft#3"]
    revision = agents.prompts["draft"][1]
    assert "Your previous answer:\n{" in revision and "- shorter\n- no jargon" in revision
    assert result.output == Notes(summary="[draft] summary", points=["[draft] points"])
    assert result.step("draft#3").round == 3


async def test_an_approving_reviewer_ends_the_loop():
    agents = ScriptedAgents()
    result, _ = await run(flow(Review(step("draft"), step("check", output=Approving), rounds=3)), agents)
    assert [s.name for s in result.steps] == ["draft", "check"]


async def test_a_branch_follows_a_field_of_a_structured_output():
    workflow = flow(step("triage", output=Kind),
                    Branch("triage.kind", {"bug": (step("fix"),), "idea": (step("plan"),)}, default=(step("ask"),)),
                    Branch("triage.urgent", {"true": (step("page"),)}))
    agents = ScriptedAgents()
    result, _ = await run(workflow, agents)
    assert [s.name for s in result.steps] == ["triage", "fix"]
    assert result.decisions == ["triage.kind = bug -> bug", "triage.urgent = false -> default"]
    agents = ScriptedAgents(script={"triage": [{"kind": "other", "urgent": True}]})
    result, _ = await run(workflow, agents)
    assert [s.name for s in result.steps] == ["triage", "ask", "page"]


async def test_a_skipped_decider_takes_the_default():
    workflow = flow(step("triage", output=Kind, on_error="skip"),
                    Branch("triage.kind", {"bug": (step("fix"),)}, default=(step("ask"),)))
    result, _ = await run(workflow, ScriptedAgents(script={"triage": [chain_failed()]}))
    assert [s.name for s in result.steps] == ["triage", "ask"]
    assert result.decisions == ["triage.kind = (no output) -> default"]


# ----- structured outputs ------------------------------------------------------------------------------

async def test_invalid_json_is_asked_again_once_quoting_the_problem():
    agents = ScriptedAgents(script={"a": ["invalid", "valid"]})
    result, _ = await run(flow(step("a")), agents)
    assert result.status == "completed" and result.step("a").routing.calls == 2
    assert "Your previous answer was not valid: it holds no JSON object" in agents.prompts["a"][1]
    assert result.cost_usd == pytest.approx(0.002)  # both calls are paid for


async def test_twice_invalid_json_fails_the_step_typed():
    agents = ScriptedAgents(script={"a": [{"summary": "no points"}]})
    with pytest.raises(WorkflowFailedError) as failed:
        await run(flow(step("a")), agents)
    assert isinstance(failed.value.__cause__, StructuredOutputError)
    assert "points: Field required" in str(failed.value) and len(agents.prompts["a"]) == 2


def test_outputs_are_read_from_fences_and_prose_and_problems_are_named():
    assert parse_output(Notes, '```json\n{"summary": "s", "points": []}\n```') == Notes(summary="s", points=[])
    assert parse_output(Notes, 'Here: {"summary": "s", "points": ["p"]} done') == Notes(summary="s", points=["p"])
    with pytest.raises(InvalidOutput, match="it is not JSON"):
        parse_output(Notes, "{summary: s}")
    with pytest.raises(InvalidOutput, match=r"summary: Field required; points: Input should be a valid list"):
        parse_output(Notes, '{"points": 3}')
    request = schema_request(Notes)
    assert "JSON Schema:\n{" in request and '"title"' not in request  # compact: titles dropped


# ----- failures, budget, deadline, cancellation --------------------------------------------------------

async def test_a_skipped_step_is_named_in_the_prompts_that_would_have_used_it():
    agents = ScriptedAgents(script={"b": [chain_failed("groq")]})
    result, _ = await run(flow(Parallel((step("a"), step("b", on_error="skip"))), step("merge")), agents)
    assert result.status == "completed" and result.step("b").status == "skipped"
    assert "AllProvidersFailedError" in result.step("b").error and result.step("b").routing is None
    assert "Step 'b' has no output: skipped after AllProvidersFailedError: all providers failed [groq/m: 503]" \
        in agents.prompts["merge"][0]


async def test_a_failing_step_fails_the_run_and_cancels_the_steps_beside_it():
    agents = ScriptedAgents(script={"a": [chain_failed()], "b": ["hang"]})
    run_task = asyncio.create_task(run(flow(Parallel((step("a"), step("b"))), step("merge")), agents))
    with pytest.raises(WorkflowFailedError) as failed:
        await run_task
    result = failed.value.result
    assert failed.value.step == "a" and result.status == "failed" and result.partial
    assert {s.name: s.status for s in result.steps} == {"a": "failed", "b": "cancelled"}
    assert agents.cancelled == ["b"] and "merge" not in agents.prompts


async def test_the_budget_stops_new_steps_and_returns_what_the_run_has():
    agents = ScriptedAgents(cost=0.01)
    result, events = await run(flow(Parallel((step("a"), step("b"))), step("merge")), agents, budget_usd=0.015)
    assert result.status == "partial" and result.partial and result.stopped == "budget"
    assert [s.name for s in result.steps] == ["a", "b"] and "merge" not in agents.prompts
    assert result.cost_usd == pytest.approx(0.02)  # both parallel steps were already running
    assert result.output is None and isinstance(events[-1], RunFinished) and events[-1].result.stopped == "budget"


async def test_the_deadline_cancels_the_steps_in_flight_and_keeps_what_finished():
    agents = ScriptedAgents(script={"slow": ["hang"]})
    result, _ = await run(flow(step("fast"), step("slow"), step("never")), agents, deadline_s=0.3)
    assert result.status == "partial" and result.stopped == "deadline"
    assert {s.name: s.status for s in result.steps} == {"fast": "completed", "slow": "cancelled"}
    assert agents.cancelled == ["slow"] and result.step("fast").output is not None
    assert 300 <= result.duration_ms < 5000


async def test_cancelling_the_run_cancels_its_calls_and_reports_it():
    agents = ScriptedAgents(script={"a": ["hang"], "b": ["hang"]})
    events: list = []
    task = asyncio.create_task(run_workflow(flow(Parallel((step("a"), step("b")))), "caching", caller=agents,
                                            on_event=events.append))
    await agents.began("a").wait()
    await agents.began("b").wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(agents.cancelled) == ["a", "b"]
    assert isinstance(events[-1], RunFinished) and events[-1].result.status == "cancelled"


async def test_events_report_each_step_with_the_cost_so_far():
    _, events = await run(flow(step("a"), step("b")), ScriptedAgents())
    kinds = [e.type for e in events]
    assert kinds == ["run_started", "step_started", "step_finished", "step_started", "step_finished", "run_finished"]
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert [e.cost_usd for e in finished] == pytest.approx([0.001, 0.002]) and finished[1].tokens == 30
    assert [e.name for e in events if isinstance(e, StepStarted)] == ["a", "b"]
    json.loads(events[-1].model_dump_json())  # every event serialises (SSE, the run record)


# ----- definitions and input ---------------------------------------------------------------------------

@pytest.mark.parametrize(("steps", "message"), [
    ((step("a"), step("a")), "two steps are called 'a'"),
    ((step("a", uses=("b",)), step("b")), "uses b, which does not run before it"),
    ((Parallel((step("a"), step("b", uses=("a",)))),), "uses a, which does not run before it"),
    ((step("a"), Branch("a.kind", {"x": ()})), "the output of 'a' has no field 'kind'"),
    ((Branch("a.kind", {"x": ()}), step("a", output=Kind)), "step 'a' does not run before it"),
    ((Review(step("a"), step("b")),), "a reviewer's output must be a Verdict"),
    ((step("a", role="legal/lawyer"),), "role 'legal/lawyer' is not <artemis|sophia>/<role>"),
    ((step("A b"),), "a step name is lower-case letters"),
])
def test_definitions_are_checked_when_built(steps, message):
    with pytest.raises(InvalidRequestError, match=message):
        flow(*steps)


async def test_unknown_roles_bad_input_and_limits_are_refused_before_any_call():
    agents = ScriptedAgents()
    with pytest.raises(InvalidRequestError, match="unknown role 'artemis/poet'"):
        await run(flow(step("a", role="artemis/poet")), agents)
    with pytest.raises(InvalidRequestError, match="depth: Input should be a valid integer"):
        await run(flow(step("a")), agents, {"topic": "x", "depth": "deep"})
    with pytest.raises(InvalidRequestError, match="deadline_s must be a positive number"):
        await run(flow(step("a")), agents, deadline_s=0)
    with pytest.raises(InvalidRequestError, match="unknown workflow 'nope'; workflows: market_brief, security_review"):
        await run_workflow("nope", {}, caller=agents)
    assert agents.prompts == {}


def test_a_text_input_goes_into_the_main_field():
    assert coerce_input(SECURITY_REVIEW, "x = 1").code == "x = 1"
    assert coerce_input(MARKET_BRIEF, "EV charging").topic == "EV charging"


# ----- the built-ins -----------------------------------------------------------------------------------

def test_security_review_fans_out_to_three_reviews_and_merges_them():
    shape = SECURITY_REVIEW.describe()["steps"]
    assert [s["role"] for s in shape[0]["parallel"]] == ["artemis/vulnerability_scanner", "artemis/security_auditor",
                                                          "artemis/performance_optimizer"]
    assert shape[1] == {"step": "report", "role": "artemis/code_reviewer", "on_error": "fail"}
    assert SECURITY_REVIEW.scope["report"] == ("scan", "audit", "performance")


def test_market_brief_runs_two_analysts_then_a_reviewed_strategy():
    shape = MARKET_BRIEF.describe()["steps"]
    assert [s["role"] for s in shape[0]["parallel"]] == ["sophia/market_analyst", "sophia/financial_analyst"]
    review = shape[1]["review"]
    assert review["work"]["role"] == "sophia/sales_strategist" and review["reviewer"]["role"] == \
        "sophia/customer_success" and review["rounds"] == 1


def test_the_merged_report_is_deduplicated_and_ordered_by_severity():
    finding = {"description": "d", "fix": "f", "found_by": ["scan"]}
    report = SecurityReport(summary="s", findings=[
        {**finding, "title": "Slow loop", "severity": "low", "line": 9},
        {**finding, "title": "SQL injection", "severity": "high", "line": 3},
        {**finding, "title": "sql injection ", "severity": "critical", "line": 3},
        {**finding, "title": "Weak hash", "severity": "high", "line": 1},
    ])
    assert [(f.title, f.severity) for f in report.findings] == [
        ("sql injection ", "critical"), ("Weak hash", "high"), ("Slow loop", "low")]


async def test_security_review_prompts_number_the_lines_and_carry_every_review():
    agents = ScriptedAgents(script={"performance": [chain_failed("deepseek")]})
    code = "import os\nos.system(input())\n"
    result = await run_workflow(SECURITY_REVIEW, {"code": code, "language": "python"}, caller=agents)
    assert numbered(code) == "1 | import os\n2 | os.system(input())"
    assert numbered(code) in agents.prompts["audit"][0] and numbered(code) in agents.prompts["report"][0]
    merge = agents.prompts["report"][0]
    assert "Findings of the scan review:" in merge and "Findings of the audit review:" in merge
    assert "The performance review has no findings to merge: skipped after AllProvidersFailedError" in merge
    assert isinstance(result.output, SecurityReport)
