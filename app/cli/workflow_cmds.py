"""``sophia workflow run|list``: multi-agent workflows from the shell, with a live progress display.

While a run goes, a table shows each step as it starts and ends (status, the provider that served it,
fallbacks and cache hits, cost, time) under a line with the run's cost and tokens so far; then the
output as JSON. ``--json`` prints only the result. Runs and their calls go to the request analytics,
so ``sophia serve``'s dashboard shows them too (same ``SOPHIA_DATA_DIR`` or ``DATABASE_URL``).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from app.core.errors import InvalidRequestError
from app.workflows import RunFinished, RunStarted, StepFinished, StepResult, StepStarted, WorkflowEvent

_STATUS = {"completed": "[green]✓ done[/]", "skipped": "[yellow]↷ skipped[/]", "failed": "[red]✗ failed[/]",
           "cancelled": "[red]■ cancelled[/]"}


def read_input(path: Path) -> Any:
    """A run's input from ``path``: a JSON or YAML document (by suffix), or any other file's text (for the
    workflow's main field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequestError(f"--input {path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        return text
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidRequestError(f"--input {path}: not valid {path.suffix[1:].upper()} ({exc})") from None


def with_fields(data: Any, fields: dict[str, str], main: str | None) -> Any:
    """``data`` with ``--set`` fields added (a text becomes the main field first)."""
    if not fields:
        return data
    if isinstance(data, str):
        if main is None:
            raise InvalidRequestError("this workflow takes a JSON or YAML object as --input")
        data = {main: data}
    if not isinstance(data, dict):
        raise InvalidRequestError("--set adds fields to an object: give --input a JSON or YAML object")
    return {**data, **fields}


class Progress:
    """The live view of one run, fed by its events."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.trace_id = ""
        self.budget: float | None = None
        self.deadline: float | None = None
        self.rows: dict[str, tuple[str, float, StepResult | None]] = {}
        """Each step by name: its role, when it started (monotonic), its result once it ended."""
        self.cost = 0.0
        self.tokens = 0
        self.started = time.monotonic()
        self.finished: RunFinished | None = None

    def __call__(self, event: WorkflowEvent) -> None:
        """Take one event of the run."""
        if isinstance(event, RunStarted):
            self.trace_id, self.budget, self.deadline = event.trace_id, event.budget_usd, event.deadline_s
        elif isinstance(event, StepStarted):
            self.rows[event.name] = (event.role, time.monotonic(), None)
        elif isinstance(event, StepFinished):
            role, started, _ = self.rows.get(event.step.name, (event.step.role, time.monotonic(), None))
            self.rows[event.step.name] = (role, started, event.step)
            self.cost, self.tokens = event.cost_usd, event.tokens
        elif isinstance(event, RunFinished):
            self.finished = event

    def render(self) -> Group:
        """The table of steps and the line of totals, as they are now."""
        title = f"{self.workflow} · trace {self.trace_id or '…'}"
        table = Table("step", "role", "status", "served by", "cost", "time", title=title, title_justify="left")
        now = time.monotonic()
        for name, (role, started, result) in self.rows.items():
            if result is None:
                table.add_row(name, role, Spinner("dots", text="running"), "", "", f"{now - started:.1f} s")
                continue
            table.add_row(name, role, _STATUS[result.status], served_by(result), f"${result.cost_usd:.5f}",
                          f"{(result.ended_ms - result.started_ms) / 1000:.1f} s")
        budget = f" of ${self.budget:g}" if self.budget is not None else ""
        deadline = f" of {self.deadline:g} s" if self.deadline is not None else ""
        totals = Text.from_markup(f"cost so far [bold]${self.cost:.5f}[/]{budget} · {self.tokens:,} tokens · "
                                  f"{now - self.started:.1f} s{deadline}")
        return Group(table, totals)


def served_by(result: StepResult) -> str:
    """``provider/model`` with what happened on the way (fallback, cache hit, retried JSON), or the error."""
    if result.routing is None:
        return escape((result.error or "")[:60])
    routing = result.routing
    notes = [note for flag, note in ((routing.fallback_used, "fallback"), (bool(routing.cached), "cache"),
                                     (routing.calls > 1, f"{routing.calls} calls")) if flag]
    return escape(f"{routing.provider}/{routing.model}") + (f" [dim]({', '.join(notes)})[/]" if notes else "")


async def run(console: Console, err: Console, name: str, path: Path, fields: dict[str, str],
              budget_usd: float | None, deadline_s: float | None, as_json: bool) -> int:
    """Run workflow ``name`` on the input in ``path`` with a live display (or print the result as JSON);
    exit code 0 when it completed, 3 when the budget or deadline cut it, 1 when a step failed it."""
    from app.analytics import AnalyticsStore
    from app.artemis.portkey_unified_factory import ArtemisFactory
    from app.cli.ops import print_sandbox_notice
    from app.core.errors import WorkflowFailedError
    from app.runtime import build_runtime
    from app.sophia.portkey_unified_factory import SophiaFactory
    from app.workflows import find_workflow, run_workflow
    from app.workflows.recording import recorder
    from app.workflows.run import main_field

    runtime = build_runtime()
    print_sandbox_notice(runtime.sandbox_notice)
    manager = runtime.manager
    definition = find_workflow(name, manager.policies.current)
    data = with_fields(read_input(path), fields, main_field(definition.input))
    analytics = await AnalyticsStore.from_settings(manager.settings).start()
    manager.observers.add(analytics.observe)
    progress = Progress(name)
    record = recorder(analytics)

    def observe(event: WorkflowEvent) -> None:
        progress(event)
        record(event)

    try:
        try:
            live = Live(get_renderable=progress.render, console=console, refresh_per_second=8,
                        redirect_stderr=False)
            with live if not as_json else contextlib.nullcontext():
                result = await run_workflow(definition, data, budget_usd=budget_usd, deadline_s=deadline_s,
                                            on_event=observe, artemis=runtime.factory(ArtemisFactory),
                                            sophia=runtime.factory(SophiaFactory))
        except WorkflowFailedError as exc:
            if as_json:
                print(exc.result.model_dump_json(indent=2))
            err.print(f"[red]error:[/] {escape(str(exc))}")
            return 1
    finally:
        await analytics.aclose()
        await runtime.aclose()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        if not console.is_terminal:
            console.line()  # outside a terminal Live prints its last frame without ending the line
        console.print_json(json.dumps(result.model_dump(mode="json")["output"]))
        state = "[green]completed[/]" if not result.partial else f"[yellow]partial: stopped by its {result.stopped}[/]"
        console.print(f"{state} · ${result.cost_usd:.5f} · {result.usage.total_tokens:,} tokens · "
                      f"{result.duration_ms / 1000:.1f} s · trace {result.trace_id}", highlight=False)
    return 3 if result.partial else 0


def list_workflows(console: Console, as_json: bool) -> int:
    """Every workflow runnable here: built-in, the routing file's, registered."""
    from app.core.settings import get_settings
    from app.routing import load_policy
    from app.workflows import workflows

    known = workflows(load_policy(get_settings()))
    if as_json:
        print(json.dumps([w.describe() for w in known.values()], indent=2))
        return 0
    table = Table("workflow", "steps", "source", "description")
    for flow in known.values():
        table.add_row(flow.name, escape(flow.outline()), escape(flow.source), escape(flow.description))
    console.print(table)
    return 0
