"""The routing file's ``workflows:`` section: multi-agent workflows of the common shapes, as data.

    workflows:
      triage:
        description: sort a bug report, then send it to the right specialist
        input: {report: string}                     # the run's input (default {text: string})
        budget_usd: 0.05                            # a run's defaults (a run may give its own)
        deadline_s: 120
        steps:
          - step: classify                          # one agent call
            role: artemis/code_reviewer
            prompt: "Classify this bug report: {input.report}"
            output: {kind: [security, performance, other], summary: string}
          - parallel:                               # fan-out; the next step sees every output
              - {step: audit, role: artemis/security_auditor, prompt: ..., on_error: skip}
              - {step: tune, role: artemis/performance_optimizer, prompt: ..., on_error: skip}
          - branch:                                 # on a field of an earlier step's output
              on: classify.kind
              cases:
                security: [{step: fix, role: artemis/code_reviewer, prompt: ...}]
              default: []
          - review:                                 # the reviewer answers a Verdict (approved, comments)
              work: {step: draft, role: sophia/sales_strategist, prompt: ...}
              reviewer: {step: tone, role: sophia/customer_success, prompt: ...}
              rounds: 1

Output fields are ``string``, ``number``, ``integer``, ``boolean``, ``list of strings``, or a list of
values (one of them). Read into plain, hashable data here (every problem with its line and field);
``app.workflows`` builds runnable workflows from it. Whether each step's role exists is checked when
the policy is composed (roles may come from the same file).
"""

from __future__ import annotations

import re

from app.routing.located import Located, Problem
from app.routing.schema import ROLE_KEY, _Reader
from app.routing.workflow_specs import (
    BranchSpec,
    Fields,
    FieldType,
    NodeSpec,
    ParallelSpec,
    ReviewSpec,
    StepSpec,
    WorkflowSpec,
)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
TYPES = ("string", "number", "integer", "boolean", "list of strings")
WORKFLOW_FIELDS = {"description", "input", "steps", "output", "budget_usd", "deadline_s"}
STEP_FIELDS = {"step", "role", "prompt", "output", "uses", "on_error", "focus", "max_tokens"}
NODE_KINDS = ("step", "parallel", "branch", "review")
VERDICT_FIELDS = (("approved", "boolean"), ("comments", "list of strings"))

class _WorkflowReader:
    """Reads one workflow, collecting every problem; tracks which steps run before which."""

    def __init__(self, base: _Reader, name: str, roles: set[str]) -> None:
        self.base = base
        self.roles = roles
        self.declared: dict[str, Fields | None] = {}
        """The output each step declares, by name, also for steps with problems."""
        self.path = f"workflows.{name}"

    def fail(self, where: Located, path: str, message: str) -> None:
        self.base.fail(where, path, message)

    def fields(self, node: Located, path: str) -> Fields | None:
        """``{name: type}``; None (with problems) when malformed."""
        if not node.is_mapping or not node.value:
            self.fail(node, path, f"expected a mapping of field: type, with types {', '.join(TYPES)} or a list "
                                  "of values")
            return None
        out: list[tuple[str, FieldType]] = []
        for key, value in node.value.items():
            here = f"{path}.{key}"
            if not FIELD.match(key):
                self.fail(node.key(key), here, "a field name is letters, digits and _")
            elif value.is_sequence and value.value and all(not v.is_mapping and not v.is_sequence
                                                           for v in value.value):
                # The values as written: `[yes, no]` are the words a branch's cases name, not booleans.
                out.append((key, tuple(v.text if v.text is not None else str(v.value) for v in value.value)))
            elif isinstance(value.value, str) and value.value.strip() in TYPES:
                out.append((key, value.value.strip()))
            else:
                self.fail(value, here, f"a type is one of {', '.join(TYPES)}, or a list of the values it may take")
        return tuple(out) if len(out) == len(node.value) else None

    def nodes(self, block: Located | None, path: str, before: tuple[str, ...], where: Located,
              *, empty_ok: bool = False) -> tuple[tuple[NodeSpec, ...] | None, tuple[str, ...]]:
        """A list of nodes run in order after ``before``: the nodes (None when any has a problem) and the
        steps before what follows (steps with problems included: later references to them are not
        reported again)."""
        if block is None or not block.is_sequence or (not block.value and not empty_ok):
            self.fail(block or where, path, "expected a list of steps ({step: ...}, {parallel: [...]}, "
                                            "{branch: {...}} or {review: {...}})")
            return None, before
        out: list[NodeSpec] = []
        ok = True
        for i, item in enumerate(block.value):
            spec, before = self.node(item, f"{path}[{i}]", before)
            if spec is None:
                ok = False
            else:
                out.append(spec)
        return (tuple(out) if ok else None), before

    def node(self, item: Located, path: str, before: tuple[str, ...]) -> tuple[NodeSpec | None, tuple[str, ...]]:
        """One node (None when it has a problem) and the steps before what follows."""
        kinds = [k for k in NODE_KINDS if item.is_mapping and k in item.value]
        if len(kinds) != 1:
            self.fail(item, path, "each entry is one of {step: name, role: ..., prompt: ...}, {parallel: [...]}, "
                                  "{branch: {on: step.field, cases: {...}}} or {review: {work: ..., reviewer: ...}}")
            return None, before
        if kinds[0] == "step":
            return self.step(item, path, before), self.after_step(item, before)
        self.base.known_fields(item, path, {kinds[0]}, "a node's")
        body = item.value[kinds[0]]
        if kinds[0] == "parallel":
            return self.parallel(body, f"{path}.parallel", before)
        if kinds[0] == "review":
            return self.review(body, f"{path}.review", before)
        return self.branch(body, f"{path}.branch", before)

    def after_step(self, item: Located, before: tuple[str, ...]) -> tuple[str, ...]:
        """``before`` and the step ``item`` names, if that name could be read."""
        name = item.value.get("step") if item.is_mapping else None
        known = name is not None and isinstance(name.value, str) and name.value.strip() in self.declared
        return (*before, name.value.strip()) if known and name is not None else before

    def parallel(self, body: Located, path: str, before: tuple[str, ...]) -> tuple[NodeSpec | None, tuple[str, ...]]:
        if not body.is_sequence or not body.value:
            self.fail(body, path, "expected a list of the steps (or blocks) that run at once")
            return None, before
        branches: list[NodeSpec] = []
        after = before
        for i, item in enumerate(body.value):
            spec, seen = self.node(item, f"{path}[{i}]", before)  # each branch sees only what ran before the block
            after = (*after, *seen[len(before):])
            if spec is not None:
                branches.append(spec)
        return (ParallelSpec(tuple(branches)) if len(branches) == len(body.value) else None), after

    def review(self, body: Located, path: str, before: tuple[str, ...]) -> tuple[NodeSpec | None, tuple[str, ...]]:
        if not body.is_mapping:
            self.fail(body, path, "expected {work: {step: ...}, reviewer: {step: ...}, rounds: 1}")
            return None, before
        self.base.known_fields(body, path, {"work", "reviewer", "rounds"}, "a review's")
        for part in ("work", "reviewer"):
            if part not in body.value:
                self.fail(body, f"{path}.{part}", f"a review needs {part}: {{step: ..., role: ..., prompt: ...}}")
        work = reviewer = None
        after = before
        if "work" in body.value:
            work = self.step(body.value["work"], f"{path}.work", after)
            after = self.after_step(body.value["work"], after)
        if "reviewer" in body.value:
            reviewer = self.step(body.value["reviewer"], f"{path}.reviewer", after, reviewer=True)
            after = self.after_step(body.value["reviewer"], after)
        rounds = body.value.get("rounds")
        if rounds is not None and (isinstance(rounds.value, bool) or not isinstance(rounds.value, int)
                                   or not 1 <= rounds.value <= 10):
            self.fail(rounds, f"{path}.rounds", "must be a whole number from 1 to 10")
            return None, after
        if work is None or reviewer is None:
            return None, after
        return ReviewSpec(work, reviewer, rounds.value if rounds is not None else 1), after

    def cases(self, groups: list[tuple[Located, str]], before: tuple[str, ...]
              ) -> tuple[list[tuple[NodeSpec, ...]] | None, tuple[str, ...]]:
        """A branch's cases: each a list of nodes (possibly empty) that sees only ``before``."""
        read: list[tuple[NodeSpec, ...]] = []
        after = before
        for block, path in groups:
            specs, seen = self.nodes(block, path, before, block, empty_ok=True)
            after = (*after, *seen[len(before):])
            if specs is not None:
                read.append(specs)
        return (read if len(read) == len(groups) else None), after

    def branch(self, body: Located, path: str, before: tuple[str, ...]) -> tuple[NodeSpec | None, tuple[str, ...]]:
        if not body.is_mapping:
            self.fail(body, path, "expected {on: step.field, cases: {value: [steps]}, default: [steps]}")
            return None, before
        self.base.known_fields(body, path, {"on", "cases", "default"}, "a branch's")
        on = self.base.text(body.value.get("on"), f"{path}.on")
        if on is None and "on" not in body.value:
            self.fail(body, f"{path}.on", "a branch needs on: step.field")
        decided = on is not None and self.decider(on, body.value["on"], f"{path}.on", before)
        cases = body.value.get("cases")
        if cases is None or not cases.is_mapping or not cases.value:
            self.fail(cases or body, f"{path}.cases", "needs a mapping of value: [steps]")
            return None, before
        groups = [(block, f"{path}.cases.{key}") for key, block in cases.value.items()]
        default = body.value.get("default")
        groups.append((default if default is not None else Located([], body.line, body.column), f"{path}.default"))
        blocks, after = self.cases(groups, before)  # read whether or not on: is right: every problem at once
        if blocks is None or not decided or on is None:
            return None, after
        keys = [str(key) for key in cases.value]
        return BranchSpec(on, tuple(zip(keys, blocks[:-1], strict=True)), blocks[-1]), after

    def decider(self, on: str, at: Located, path: str, before: tuple[str, ...]) -> bool:
        step, _, field = on.partition(".")
        if step not in before or not field:
            self.fail(at, path, f"must be <step>.<field> of a step that runs before it; steps before it: "
                                f"{', '.join(before) or 'none'}")
            return False
        fields = [name for name, _ in self.declared.get(step) or ()]
        if field not in fields:
            self.fail(at, path, f"step {step!r} declares no output field {field!r} (a branch reads a field of "
                                f"the step's output:, which declares {', '.join(fields) or 'none'})")
            return False
        return True

    def step(self, item: Located, path: str, before: tuple[str, ...], *, reviewer: bool = False) -> StepSpec | None:
        if not item.is_mapping:
            self.fail(item, path, "expected {step: name, role: domain/role, prompt: ...}")
            return None
        self.base.known_fields(item, path, STEP_FIELDS, "a step's")
        values = item.value
        before_problems = len(self.base.problems)
        name = self.step_name(values.get("step"), f"{path}.step")
        role = self.role(values.get("role"), f"{path}.role")
        prompt = self.base.text(values.get("prompt"), f"{path}.prompt")
        for needed in ("step", "role", "prompt"):
            if needed not in values:
                self.fail(item, f"{path}.{needed}", f"a step needs {needed}:")
        output = self.fields(values["output"], f"{path}.output") if "output" in values else None
        if reviewer:
            output = self.verdict(output, values.get("output"), f"{path}.output")
        if name is not None:
            self.declared[name] = output
        uses = self.uses(values.get("uses"), f"{path}.uses", before)
        on_error = values.get("on_error")
        if on_error is not None and on_error.value not in ("fail", "skip"):
            self.fail(on_error, f"{path}.on_error", "must be fail (end the run) or skip (go on without it)")
        focus = self.base.text(values.get("focus"), f"{path}.focus") if "focus" in values else "general"
        max_tokens = values.get("max_tokens")
        if max_tokens is not None and (isinstance(max_tokens.value, bool) or not isinstance(max_tokens.value, int)
                                       or max_tokens.value < 1):
            self.fail(max_tokens, f"{path}.max_tokens", "must be a positive whole number")
        if len(self.base.problems) > before_problems or name is None or role is None or prompt is None:
            return None
        spec = StepSpec(name, role, prompt, output, uses, on_error.value if on_error is not None else "fail",
                        focus or "general", max_tokens.value if max_tokens is not None else 2000, reviewer)
        return spec

    def step_name(self, node: Located | None, path: str) -> str | None:
        """A new step's name (None, with a problem, when it is malformed or taken)."""
        name = self.base.text(node, path)
        if node is None or name is None:
            return None
        if not NAME.match(name):
            self.fail(node, path, "a step name is lower-case letters, digits and _ (at most 48)")
            return None
        if name in self.declared:
            self.fail(node, path, f"another step is already called {name!r}")
            return None
        return name

    def role(self, node: Located | None, path: str) -> str | None:
        """A step's role: ``domain/name``, built in or defined in the same file."""
        role = self.base.text(node, path)
        if node is None or role is None:
            return None
        if not ROLE_KEY.match(role):
            self.fail(node, path, "a role is <artemis|sophia>/<name>, e.g. artemis/code_reviewer")
        elif role not in self.roles:
            domain = role.partition("/")[0]
            known = ", ".join(sorted(r for r in self.roles if r.startswith(f"{domain}/")))
            self.fail(node, path, f"unknown role {role!r}; roles: {known}")
        return role

    def verdict(self, output: Fields | None, at: Located | None, path: str) -> Fields:
        """A reviewer's output: the verdict's fields (approved, comments) plus any it declares."""
        own = dict(output or ())
        for name, kind in VERDICT_FIELDS:
            if name in own and own[name] != kind and at is not None:
                self.fail(at, f"{path}.{name}", f"a reviewer's {name} is {kind}")
        return (*VERDICT_FIELDS, *((k, v) for k, v in own.items() if k not in dict(VERDICT_FIELDS)))

    def uses(self, node: Located | None, path: str, before: tuple[str, ...]) -> tuple[str, ...] | None:
        if node is None:
            return None
        names = node.plain()
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.fail(node, path, "must be a list of step names")
            return None
        unknown = [n for n in names if n not in before]
        if unknown:
            self.fail(node, path, f"{', '.join(unknown)} does not run before this step; steps before it: "
                                  f"{', '.join(before) or 'none'}")
        return tuple(names)

    def workflow(self, name: str, entry: Located, at: Located) -> WorkflowSpec | None:
        path = self.path
        if not NAME.match(name):
            self.fail(at, path, "a workflow name is lower-case letters, digits and _ (at most 48)")
            return None
        if not entry.is_mapping:
            self.fail(entry, path, "expected a mapping with description and steps")
            return None
        self.base.known_fields(entry, path, WORKFLOW_FIELDS, "a workflow's")
        values = entry.value
        before_problems = len(self.base.problems)
        description = self.base.text(values.get("description"), f"{path}.description") or ""
        data: Fields | None = (("text", "string"),)
        if "input" in values:
            data = self.fields(values["input"], f"{path}.input")
        steps, _ = self.nodes(values.get("steps"), f"{path}.steps", (), entry)
        limits = {}
        for key, low_inclusive in (("budget_usd", True), ("deadline_s", False)):
            if key in values:
                limits[key] = self.base.number(values[key], f"{path}.{key}", 0, low_inclusive=low_inclusive)
        output = self.base.text(values.get("output"), f"{path}.output")
        if output is not None and output not in self.declared:
            self.fail(values["output"], f"{path}.output", f"no step is called {output!r}; steps: "
                                                         f"{', '.join(self.declared) or 'none'}")
        if steps is None or data is None or len(self.base.problems) > before_problems:
            return None
        return WorkflowSpec(name, description, data, steps, output, limits.get("budget_usd"),
                            limits.get("deadline_s"))


def read_workflows(document: Located, roles: set[str]) -> tuple[dict[str, WorkflowSpec], list[Problem]]:
    """The ``workflows:`` section of a parsed routing file, and every problem found in it; ``roles`` are
    the role keys a step may use (built in, or defined in the same file)."""
    reader = _Reader()
    block = document.value.get("workflows") if document.is_mapping else None
    if block is None or block.value is None:
        return {}, []
    if not block.is_mapping:
        reader.fail(block, "workflows", "workflows is a mapping of name: workflow")
        return {}, reader.problems
    reader.known_fields(block, "workflows", set(block.value), "workflows")  # reports duplicate names
    out = {}
    for name, entry in block.value.items():
        spec = _WorkflowReader(reader, name, roles).workflow(name, entry, block.key(name))
        if spec is not None:
            out[name] = spec
    return out, reader.problems
