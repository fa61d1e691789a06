"""The bodies of ``sophia health``, ``sophia ask`` and ``sophia stats`` (rich output)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.core.results import RoutingInfo


def print_sandbox_notice(notice: str | None) -> None:
    """The yellow SANDBOX notice (``make run``'s simulators stand in), as ``sophia serve`` shows it; on
    stderr, so that ``--json`` output stays clean."""
    if notice:
        Console(stderr=True).print(f"[bold black on yellow] SANDBOX [/] {escape(notice.removeprefix('SANDBOX: '))}",
                                   highlight=False)


async def health(console: Console, as_json: bool) -> int:
    """Probe every provider and store once and print the report; exit code 1 when the status is down."""
    from app.artemis.portkey_unified_factory import ArtemisFactory
    from app.runtime import build_runtime
    from app.service.health_report import combined_health
    from app.sophia.portkey_unified_factory import SophiaFactory

    runtime = build_runtime()
    print_sandbox_notice(runtime.sandbox_notice)
    # Without Redis each process keeps its own breakers: this one's are fresh, so showing them as the
    # system's circuits would say "closed, 0 attempts" whatever the service has seen.
    circuits_shared = getattr(runtime.manager.circuits, "shared", False)
    try:
        with console.status("probing every configured provider through the gateway"):
            report = await combined_health(runtime.factory(ArtemisFactory), runtime.factory(SophiaFactory),
                                           force=True)
    finally:
        await runtime.aclose()
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        colour = {"operational": "green", "degraded": "yellow", "down": "red"}[report["status"]]
        console.print(f"status: [bold {colour}]{report['status']}[/]  "
                      f"gateway {escape(report['details']['gateway']['url'])}")
        for reason in report["details"]["reasons"]:
            console.print(f"  [{colour}]•[/] {escape(reason)}")
        table = Table("provider", "ok", "latency", "reason")
        for name, check in report["details"]["providers"].items():
            latency = f"{check['latency_ms']:.0f} ms" if "latency_ms" in check else ""
            table.add_row(name, "✅" if check["ok"] else "❌", latency, escape(check["reason"]))
        for name, check in report["details"]["vector_databases"].items():
            table.add_row(f"store: {name}", "✅" if check["ok"] else "❌", "", escape(check["reason"]))
        console.print(table)
        circuits = Table("target", "circuit", "attempts", "failures", "probe in")
        for target, circuit in report["details"].get("circuits", {}).items():
            if "state" in circuit:
                probe = f"{circuit['probe_after_s']:g} s" if "probe_after_s" in circuit else ""
                circuits.add_row(escape(target), circuit["state"], str(circuit["attempts"]),
                                 str(circuit["failures"]), probe)
        if circuits.row_count and circuits_shared:
            console.print(circuits)
        elif circuits.row_count:
            console.print("[dim]circuit breakers: kept per process without REDIS_URL, so this command has none "
                          "to show; a running service shows its own in /health and on its dashboard[/]")
    return 1 if report["status"] == "down" else 0


async def ask(console: Console, prompt: str, model: str, stream: bool, max_tokens: int | None,
              metadata: dict[str, str] | None = None) -> int:
    """Send ``prompt`` to ``model`` (a provider/model, a role or ``route/<name>``), print the answer and how
    it was served; ``metadata`` is what a route's rules read.

    The call is recorded in the request analytics like any other; exit code 0.
    """
    from app.analytics import AnalyticsStore
    from app.core.model_names import resolve_model
    from app.runtime import build_runtime

    runtime = build_runtime()
    print_sandbox_notice(runtime.sandbox_notice)
    manager = runtime.manager
    analytics = await AnalyticsStore.from_settings(manager.settings).start()
    manager.observers.add(analytics.observe)
    try:
        route = resolve_model(model, manager.policies.current, manager.settings)
        params: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
        call: dict[str, Any] = {**route.call(), "messages": [{"role": "user", "content": prompt}],
                                "metadata": {**(metadata or {}), **route.metadata} or None, **params}
        routing: RoutingInfo | None
        if stream:
            chunks = await manager.acreate_completion(stream=True, **call)
            async for chunk in chunks:
                console.print(escape(chunk.text), end="", soft_wrap=True)
            console.print()
            routing = chunks.routing
        else:
            answer = await manager.acreate_completion(**call)
            console.print(escape(answer.content))
            routing = answer.routing
        assert routing is not None, "a finished call has its routing facts"
        from app.core.pricing import usage_cost

        cost = usage_cost(routing.provider, routing.model, routing.usage)
        policy = "".join(f" · {name} {escape(value)}" for name, value in
                         (("route", routing.route), ("variant", routing.variant), ("complexity", routing.complexity))
                         if value)
        console.print(f"[dim]{routing.provider}/{escape(routing.model)}"
                      f"{' (fallback)' if routing.fallback_used else ''} · {routing.latency_ms:.0f} ms · "
                      f"{routing.usage.total_tokens} tokens"
                      f"{f' · ${cost:.5f}' if cost is not None else ''}{policy} · trace {routing.trace_id}[/]")
    finally:
        await analytics.aclose()
        await manager.aclose()
    return 0


async def stats(console: Console, hours: float, as_json: bool) -> int:
    """Print each provider's totals over the last ``hours`` from the request analytics; exit code 0."""
    from app.analytics import AnalyticsStore
    from app.core.settings import get_settings

    store = await AnalyticsStore.from_settings(get_settings()).start()
    try:
        rows = await store.provider_stats(time.time() - hours * 3600)
    finally:
        await store.aclose()
    if as_json:
        print(json.dumps([_row_dict(r) for r in rows], indent=2))
        return 0
    # Short headers: the table fits an 80-column terminal. Latency is that of provider answers.
    table = Table(title=f"Provider performance, last {hours:g} h ({store.backend})", box=None, padding=(0, 1),
                  pad_edge=False, header_style="bold")
    for i, header in enumerate(("provider", "calls", "errors", "fallbacks", "hits", "avg ms", "max ms", "tokens",
                                "USD")):
        table.add_column(header, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(escape(r.provider), str(r.requests), str(r.errors), str(r.fallbacks), str(r.cache_hits),
                      f"{r.avg_latency_ms:.0f}", f"{r.max_latency_ms:.0f}",
                      str(r.prompt_tokens + r.completion_tokens), _usd(r.cost_usd))
    if not rows:
        console.print(f"no requests recorded in the last {hours:g} h")
    else:
        console.print(table)
    return 0


def _usd(value: float) -> str:
    """Dollars to 3 significant digits below $1 (0.0144, 0.0000410), to the cent above: comparable."""
    if value == 0:
        return "0"
    return f"{value:.2f}" if value >= 1 else f"{value:.{min(10, 2 - math.floor(math.log10(value)))}f}"


def _row_dict(row: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(row)
