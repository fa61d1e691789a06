"""The bodies of ``sophia routes check|show`` and ``sophia experiments`` (rich output)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def check(console: Console, err: Console, path: Path) -> int:
    """Validate a routing file without starting anything; exit code 1 (every problem listed) when it is wrong."""
    from app.routing import RoutingFileError, check_file
    from app.routing.loading import BUILTIN

    if not path.is_file():
        err.print(f"[red]error:[/] {escape(str(path))} is not a file")
        return 2
    try:
        policy = check_file(path)
    except RoutingFileError as exc:
        err.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
        return 1
    from app.routing.loading import builtin_text, parse_file

    builtin = parse_file(builtin_text(), BUILTIN).roles
    own = parse_file(path.read_text(encoding="utf-8"), str(path)).roles
    table = Table("name", "kind", "strategy", "targets", title=f"{path}: valid (version {policy.version})")
    for key in own:
        role = policy.roles[key]
        kind = "role (overrides built-in)" if key in builtin else "role"
        table.add_row(key, kind, type(role.strategy.root).__name__.lower(), escape(", ".join(role.strategy.targets)))
    for name, route in policy.routes.items():
        table.add_row(f"route/{name}", "route", type(route.strategy.root).__name__.lower(),
                      escape(", ".join(route.strategy.targets)))
    from app.workflows.from_file import compile_spec

    for name, spec in policy.workflows.items():
        flow = compile_spec(spec, policy)
        table.add_row(f"workflow/{name}", "workflow", escape(flow.outline()),
                      escape(", ".join(dict.fromkeys(s.role for s in flow.all_steps()))))
    console.print(table)
    return 0


def show(console: Console, name: str, file: Path | None) -> int:
    """Print the compiled Portkey config(s) of a route or role (keys redacted); exit code 0."""
    from app.core.settings import get_settings
    from app.routing import load_policy
    from app.routing.display import show as shown

    settings = get_settings()
    policy = load_policy(settings, path=file)
    print(json.dumps(shown(policy, name, settings), indent=2))
    return 0


async def experiments(console: Console, name: str, hours: float, as_json: bool) -> int:
    """Compare an experiment's variants over the last ``hours`` from the request analytics; exit code 0."""
    from app.analytics import AnalyticsStore
    from app.analytics.experiments import experiment_report
    from app.core.settings import get_settings
    from app.routing import load_policy

    settings = get_settings()
    variants = load_policy(settings).experiments().get(name, ())
    store = await AnalyticsStore.from_settings(settings).start()
    try:
        report = await experiment_report(store, name, time.time() - hours * 3600, variants)
    finally:
        await store.aclose()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    if not report.variants:
        console.print(f"no calls of {escape(name)} with a variant in the last {hours:g} h")
        return 0
    table = Table("variant", "requests", "success", "fallback", "p50", "p95", "tokens/call", "cost/call",
                  "feedback (mean, 95% CI)", title=f"Experiment {escape(name)}, last {hours:g} h ({store.backend})")
    for v in report.variants:
        score = f"{v.score.mean:.2f} [{v.score.low:.2f}, {v.score.high:.2f}] n={v.feedback}" if v.score else "-"
        table.add_row(escape(v.variant), str(v.requests), _pct(v.success_rate), _pct(v.fallback_rate),
                      _ms(v.p50_ms), _ms(v.p95_ms), f"{v.tokens_per_call:.0f}" if v.tokens_per_call is not None else "-",
                      f"${v.cost_per_call:.6f}" if v.cost_per_call is not None else "-", score)
    console.print(table)
    for c in report.comparisons:
        verdict = ("not enough data" if c.p_value is None else
                   f"p={c.p_value:.3g} ({c.test}): {'[green]significant[/]' if c.significant else 'not significant'}")
        console.print(f"{escape(c.variant)} vs {escape(str(report.control))}, {c.metric}: {verdict}")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
