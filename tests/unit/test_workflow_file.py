"""Workflows in the routing file: the common shapes as data, every problem named by line and field, and
the runnable workflows built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.routing import RoutingFileError, check_file
from app.routing.workflow_specs import BranchSpec, ParallelSpec, ReviewSpec, StepSpec
from app.workflows import Verdict, run_workflow, unregister_workflow
from app.workflows.from_file import compile_spec
from tests.unit.workflow_fakes import ScriptedAgents

TRIAGE = """\
roles:
  artemis/test_writer:
    description: writes pytest tests
    system_prompt: You write focused pytest tests.
    target: openai/gpt-4o
workflows:
  triage:
    description: sort a bug report, then send it to the right specialist
    input: {report: string, product: string}
    budget_usd: 0.05
    deadline_s: 120
    steps:
      - step: classify
        role: artemis/code_reviewer
        prompt: "Classify this bug report about {input.product}: {input.report}"
        output: {kind: [security, performance, other], summary: string, confidence: number}
      - parallel:
          - {step: audit, role: artemis/security_auditor, prompt: Audit what the report describes., on_error: skip}
          - {step: tests, role: artemis/test_writer, prompt: Write a test that reproduces it., uses: [classify]}
      - branch:
          on: classify.kind
          cases:
            security: [{step: fix, role: artemis/code_reviewer, prompt: Propose the fix., output: {patch: string}}]
          default: []
      - review:
          work: {step: note, role: sophia/customer_success, prompt: Write the note to the customer.}
          reviewer: {step: tone, role: sophia/sales_strategist, prompt: Check the tone., output: {score: integer}}
          rounds: 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(RoutingFileError) as error:
        check_file(write(tmp_path, text))
    return str(error.value)


def test_the_common_shapes_read_into_plain_data(tmp_path):
    policy = check_file(write(tmp_path, TRIAGE))
    spec = policy.workflows["triage"]
    assert spec.input == (("report", "string"), ("product", "string"))
    assert spec.budget_usd == 0.05 and spec.deadline_s == 120
    classify, parallel, branch, review = spec.steps
    assert isinstance(classify, StepSpec) and classify.output[0] == ("kind", ("security", "performance", "other"))
    assert isinstance(parallel, ParallelSpec) and [s.name for s in parallel.branches] == ["audit", "tests"]
    assert isinstance(branch, BranchSpec) and branch.cases[0][0] == "security" and branch.default == ()
    assert isinstance(review, ReviewSpec) and review.rounds == 2 and review.reviewer.output[:2] == (
        ("approved", "boolean"), ("comments", "list of strings"))
    assert [s.name for s in compile_spec(spec, policy).all_steps()] == ["classify", "audit", "tests", "fix", "note",
                                                                        "tone"]


@pytest.mark.parametrize(("text", "expected"), [
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p, retries: 2}\n",
     "4:59: workflows.w.steps[0].retries: unknown field 'retries'"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p, output: {x: text}}\n",
     "workflows.w.steps[0].output.x: a type is one of string, number, integer, boolean, list of strings"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/poet, prompt: p}\n",
     "4:25: workflows.w.steps[0].role: unknown role 'artemis/poet'; roles: artemis/code_reviewer"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p, uses: [b]}\n"
     "      - {step: b, role: artemis/code_reviewer, prompt: p}\n",
     "4:65: workflows.w.steps[0].uses: b does not run before this step; steps before it: none"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p}\n"
     "      - branch: {on: a.kind, cases: {x: []}}\n",
     "5:22: workflows.w.steps[1].branch.on: step 'a' declares no output field 'kind' (a branch reads a field "
     "of the step's output:, which declares none)"),
    ("workflows:\n  w:\n    steps:\n      - review: {work: {step: a, role: sophia/customer_success, prompt: p}, "
     "reviewer: {step: b, role: sophia/customer_success, prompt: p}, rounds: 0}\n",
     "workflows.w.steps[0].review.rounds: must be a whole number from 1 to 10"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer}\n",
     "workflows.w.steps[0].prompt: a step needs prompt:"),
    ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p}\n"
     "      - {step: a, role: artemis/code_reviewer, prompt: p}\n",
     "5:16: workflows.w.steps[1].step: another step is already called 'a'"),
    ("workflows:\n  Bad-Name:\n    steps: []\n", "2:3: workflows.Bad-Name: a workflow name is lower-case letters"),
    ("workflows:\n  w:\n    steps:\n      - {parallel: [{step: a, role: artemis/code_reviewer, prompt: p}], "
     "step: b}\n", "workflows.w.steps[0]: each entry is one of"),
    ("workflows:\n  w:\n    budget_usd: -1\n    steps:\n      - {step: a, role: artemis/code_reviewer, prompt: p}\n",
     "3:17: workflows.w.budget_usd: must be >= 0, got -1"),
])
def test_problems_are_named_by_line_and_field(tmp_path, text, expected):
    assert expected in problems(tmp_path, text)


def test_every_problem_is_reported_at_once(tmp_path):
    text = ("workflows:\n  w:\n    steps:\n      - {step: a, role: artemis/poet, prompt: p}\n"
            "      - {step: b, role: artemis/code_reviewer, prompt: p, on_error: retry}\n")
    message = problems(tmp_path, text)
    assert "has 2 problem(s)" in message and "unknown role 'artemis/poet'" in message and "on_error" in message


async def test_a_file_workflow_runs_with_models_built_from_its_types(tmp_path):
    policy = check_file(write(tmp_path, TRIAGE))
    workflow = compile_spec(policy.workflows["triage"], policy)
    kind = workflow.step("classify").output.model_json_schema()["properties"]["kind"]
    assert kind["enum"] == ["security", "performance", "other"]
    assert issubclass(workflow.step("tone").output, Verdict)
    assert list(workflow.step("note").output.model_fields) == ["summary", "key_points", "recommendations",
                                                              "confidence"]  # the role's output shape
    assert list(workflow.step("audit").output.model_fields) == ["answer"]  # no shape anywhere: one answer
    agents = ScriptedAgents(policy=policy)
    result = await run_workflow(workflow, {"report": "login is slow", "product": "web"}, caller=agents)
    assert [s.name for s in result.steps] == ["classify", "audit", "tests", "fix", "note", "tone", "note#2",
                                              "tone#2", "note#3"]
    assert result.decisions == ["classify.kind = security -> security"]
    assert agents.prompts["classify"][0].startswith("Classify this bug report about web: login is slow")
    assert result.budget_usd == 0.05 and result.deadline_s == 120


def test_the_builtin_workflows_are_not_overridden_by_an_empty_section(tmp_path):
    policy = check_file(write(tmp_path, "workflows: {}\n"))
    assert policy.workflows == {}


def readme_block(start: str, fence: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return readme.split(start, 1)[1].split(f"```{fence}\n", 1)[1].split("```", 1)[0]


def test_the_readmes_workflow_examples_are_valid(tmp_path):
    policy = check_file(write(tmp_path, readme_block("### Defining workflows", "yaml")))
    flow = compile_spec(policy.workflows["triage"], policy)
    assert flow.outline() == ("classify -> [audit | tune] -> classify.kind? {security: fix; else: -} -> "
                              "reply <-> tone (x2)")
    namespace: dict = {}
    exec(readme_block("### Defining workflows", "python"), namespace)
    try:
        assert namespace["triage"].outline() == flow.outline()
    finally:
        unregister_workflow("triage")


IN_A_PARALLEL = ("workflows:\n  w:\n    steps:\n      - parallel:\n          - {step: a, role: artemis/poet, prompt: p}\n"
                 "          - {step: b, role: artemis/code_reviewer, prompt: p}\n"
                 "      - {step: c, role: artemis/code_reviewer, prompt: p, uses: [a, b]}\n")
IN_A_REVIEW = ("workflows:\n  w:\n    steps:\n      - review: {work: {step: a, role: artemis/poet, prompt: p}, "
               "reviewer: {step: b, role: artemis/code_reviewer, prompt: p, uses: [a]}}\n"
               "      - {step: c, role: artemis/code_reviewer, prompt: p, uses: [a, b]}\n")


@pytest.mark.parametrize("where", ["readme", "parallel", "review"])
def test_one_mistake_is_reported_once_not_again_by_every_reference_to_it(tmp_path, where):
    text = {"parallel": IN_A_PARALLEL, "review": IN_A_REVIEW}.get(where) or readme_block(
        "### Defining workflows", "yaml").replace("role: artemis/code_reviewer\n        prompt: \"Classify",
                                                  "role: artemis/poet\n        prompt: \"Classify")
    message = problems(tmp_path, text)
    assert "has 1 problem(s)" in message and "unknown role 'artemis/poet'" in message


def test_routes_check_lists_the_files_workflows(tmp_path):
    from rich.console import Console

    from app.cli.routing_cmds import check

    console = Console(record=True, width=250)
    assert check(console, Console(stderr=True), write(tmp_path, TRIAGE)) == 0
    shown = console.export_text()
    assert "workflow/triage" in shown and "classify -> [audit | tests] -> classify.kind?" in shown


def test_choice_values_are_read_as_written_not_as_yaml_booleans(tmp_path):
    text = """\
workflows:
  gate:
    input: {code: string}
    steps:
      - step: check
        role: artemis/code_reviewer
        prompt: "Is this safe to ship? {input.code}"
        output: {safe: [yes, no]}
      - branch:
          on: check.safe
          cases:
            yes: [{step: ship, role: artemis/code_reviewer, prompt: Write the release note.}]
          default: []
"""
    policy = check_file(write(tmp_path, text))
    workflow = compile_spec(policy.workflows["gate"], policy)
    assert workflow.step("check").output.model_json_schema()["properties"]["safe"]["enum"] == ["yes", "no"]
