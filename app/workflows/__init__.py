"""Multi-agent workflows: Artemis and Sophia agents working together, as one observable, budgeted run.

    from app.workflows import run_workflow

    result = await run_workflow("security_review", {"code": source, "language": "python"},
                                budget_usd=0.05, deadline_s=120)
    result.output            # SecurityReport: one deduplicated list of findings, most severe first
    result.steps             # each step: name, output, routing (who served, fallback, cache), cost, timing
    result.cost_usd, result.usage, result.partial, result.trace_id

Workflows compose agent steps (``Step``) in sequence, in parallel (``Parallel``), in a bounded review
loop (``Review``) and in a branch on a step's structured output (``Branch``); each step answers JSON
validated against its pydantic model, and later steps get earlier outputs in their prompts. Built in:
``security_review`` and ``market_brief``; more come from the routing file's ``workflows:`` section or
from ``register_workflow``.
"""

from app.workflows.agents import AgentAnswer, AgentCaller, FactoryCaller
from app.workflows.catalog import find_workflow, register_workflow, unregister_workflow, workflows
from app.workflows.definition import Branch, Parallel, Review, Step, StepContext, Verdict, Workflow
from app.workflows.results import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepResult,
    StepRouting,
    StepStarted,
    WorkflowEvent,
    WorkflowResult,
)
from app.workflows.run import coerce_input, run_workflow

__all__ = [
    "AgentAnswer",
    "AgentCaller",
    "Branch",
    "FactoryCaller",
    "Parallel",
    "Review",
    "RunFinished",
    "RunStarted",
    "Step",
    "StepContext",
    "StepFinished",
    "StepResult",
    "StepRouting",
    "StepStarted",
    "Verdict",
    "Workflow",
    "WorkflowEvent",
    "WorkflowResult",
    "coerce_input",
    "find_workflow",
    "register_workflow",
    "run_workflow",
    "unregister_workflow",
    "workflows",
]
