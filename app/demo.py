"""`make run` for now: the spec's Basic Completion example in the sandbox, then a forced fallback."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.core.results import summarize_attempts
from app.sandbox import Sandbox


def _row(table: Table, label: str, response: object) -> None:
    routing = response.routing  # type: ignore[attr-defined]
    table.add_row(
        label, routing.provider, escape(routing.model), "yes" if routing.fallback_used else "no",
        escape(summarize_attempts(routing.attempts)), f"{routing.latency_ms:.0f}",
        escape(response.choices[0].message.content[:70]),  # type: ignore[attr-defined]
    )


def run_demo(sandbox: Sandbox, console: Console) -> None:
    """Print who served the spec's Basic Completion example, then two forced fallbacks and a stream.

    Uses ``sandbox``'s simulators and installs a process manager on it (``configure_portkey_manager``).
    """
    from app.core.portkey_config import configure_portkey_manager, get_portkey_manager
    from app.core.settings import load_settings
    from app.sandbox import as_settings
    from app.simulators import Fault

    # One retry per target keeps the demo quick (the default, 3, backs off 1 + 2 + 4 s per target).
    configure_portkey_manager(load_settings(**{"max_retries": 1, **as_settings(sandbox.env)}))

    table = Table(title="Who served each answer (PortkeyManager -> Portkey gateway -> providers)",
                  show_lines=True, expand=True)
    for column in ("call", "provider", "model", "fallback", "attempts", "ms", "answer"):
        table.add_column(column)

    # The spec's Basic Completion example, exactly as written.
    manager = get_portkey_manager()
    response = manager.create_completion(
        provider="openai",
        model="gpt-4-turbo",
        messages=[{"role": "user", "content": "Hello"}],
        temperature=0.7
    )
    _row(table, "spec example", response)

    control = sandbox.simulators.control
    control.set_fault("openai", Fault(status=503))
    try:
        response = manager.create_completion(
            provider="openai", model="gpt-4-turbo",
            messages=[{"role": "user", "content": "Hello while OpenAI is down"}], temperature=0.7,
        )
        _row(table, "OpenAI answers 503", response)
        control.set_fault("anthropic", Fault(mode="refuse"))
        response = manager.create_completion(
            provider="openai", model="gpt-4-turbo",
            messages=[{"role": "user", "content": "Hello while OpenAI and Anthropic are down"}],
        )
        _row(table, "+ Anthropic refuses", response)
    finally:
        control.clear_faults()

    stream = manager.create_completion(provider="groq", messages=[{"role": "user", "content": "Stream a hello"}],
                                       stream=True)
    text = "".join(chunk.text for chunk in stream)
    console.print(table)
    served = f"{stream.routing.provider}/{stream.routing.model}" if stream.routing else "?"
    console.print(f"[bold]stream[/] from {escape(served)}: {escape(repr(text))}")
