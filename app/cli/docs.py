"""`sophia docs`: add, search, list and remove documents in the document store.

The store is the process runtime's (``get_document_store()``): Qdrant local mode in
``<SOPHIA_DATA_DIR>/qdrant`` unless ``QDRANT_URL`` or ``WEAVIATE_URL`` is set. Local mode locks
its folder, so while ``sophia serve`` runs on the same folder use its HTTP API (``/v1/documents``)
instead, or point both at a Qdrant server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Documents: add files, search them, list and remove sources.")
console = Console()
err_console = Console(stderr=True)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} must look like key=value, got {value!r}")
        pairs[key] = text
    return pairs


def _run(body: Callable[[Any], Coroutine[Any, Any, int]]) -> None:
    """Run ``body(store)``; our errors print one line (exit 2 for configuration, 1 otherwise)."""
    from app.core.errors import ConfigurationError, SophiaError
    from app.documents import get_document_store

    try:
        code = asyncio.run(body(get_document_store()))
    except ConfigurationError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        code = 2
    except SophiaError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        code = 1
    raise typer.Exit(code)


def files_under(paths: list[Path]) -> list[Path]:
    """The files named, and the supported files inside the folders named (recursively, sorted)."""
    from app.documents import SUFFIXES

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        else:
            found.append(path)
    return found


@app.command()
def add(paths: Annotated[list[Path], typer.Argument(help="Files or folders (txt, md, html, pdf).")],
        meta: Annotated[list[str] | None, typer.Option("--meta", "-m", help="Metadata key=value (repeatable).")]
        = None) -> None:
    """Add (or update) files; unchanged files are skipped cheaply."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.core.errors import InvalidRequestError

    metadata = _pairs(meta, "--meta")
    files = files_under(paths)
    if not files:
        err_console.print("[red]error:[/] no supported files (txt, md, html, pdf) under the paths given")
        raise typer.Exit(1)

    async def body(store: Any) -> int:
        results, failures = [], 0
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            files_task = progress.add_task("files", total=len(files))
            chunks_task = progress.add_task("chunks", total=None)
            for file in files:
                progress.reset(chunks_task, total=None, description=f"chunks of {escape(file.name)}")

                def advance(done: int, total: int) -> None:
                    progress.update(chunks_task, completed=done, total=total)

                try:
                    results.append(await store.add_file(file, metadata=metadata, progress=advance))
                except InvalidRequestError as exc:
                    failures += 1
                    progress.console.print(f"[red]skipped[/] {escape(str(file))}: {escape(str(exc))}")
                progress.advance(files_task)
        table = Table("source", "status", "chunks")
        for result in results:
            table.add_row(escape(result.source), result.status, str(result.chunks))
        if results:
            console.print(table)
        console.print(f"{len(results)} file(s) stored, {failures} skipped, "
                      f"{sum(r.chunks for r in results if r.status != 'unchanged')} chunk(s) written")
        return 1 if failures else 0

    _run(body)


@app.command()
def search(query: Annotated[str, typer.Argument(help="What to look for.")],
           limit: Annotated[int, typer.Option("--limit", "-n", help="How many chunks.")] = 5,
           mode: Annotated[str, typer.Option(help="hybrid, vector or keyword.")] = "hybrid",
           where: Annotated[list[str] | None, typer.Option("--filter", "-f",
                                                          help="Only chunks whose metadata key=value.")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Search the documents; shows each chunk with its source, position and score."""
    filters = _pairs(where, "--filter")

    async def body(store: Any) -> int:
        hits = await store.search(query, limit=limit, filters=filters or None, mode=mode)
        if as_json:
            print(json.dumps([h.as_dict() for h in hits], indent=2))
            return 0
        if not hits:
            console.print("no matches")
        for rank, hit in enumerate(hits, start=1):
            where_in = " · ".join(p for p in (hit.section, f"page {hit.page}" if hit.page else "") if p)
            console.print(f"[bold]{rank}. {escape(hit.citation)}[/]  [dim]score {hit.score:.3f}"
                          f"{'  ' + escape(where_in) if where_in else ''}[/]")
            console.print(escape(hit.chunk if len(hit.chunk) <= 400 else hit.chunk[:400] + "…"), soft_wrap=True)
            console.print()
        return 0

    _run(body)


@app.command(name="list")
def list_sources(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the sources stored, with their chunk counts."""

    async def body(store: Any) -> int:
        sources = await store.sources()
        if as_json:
            print(json.dumps([s.as_dict() for s in sources], indent=2))
            return 0
        table = Table("source", "format", "chunks", "title", "added (UTC)", "metadata",
                      title=f"{len(sources)} source(s) in {store.backend.kind} at {escape(store.backend.location)}")
        for s in sources:
            table.add_row(escape(s.source), s.format, str(s.chunks), escape(s.title or ""), s.added_at[:19],
                          escape(", ".join(f"{k}={v}" for k, v in s.metadata.items())))
        console.print(table)
        return 0

    _run(body)


@app.command(name="rm")
def remove(source: Annotated[str, typer.Argument(help="The source, as `sophia docs list` shows it.")]) -> None:
    """Remove a source and all its chunks."""

    async def body(store: Any) -> int:
        removed = await store.delete(source)
        if not removed:
            err_console.print(f"[red]error:[/] no source {escape(source)!r}; see `sophia docs list`")
            return 1
        console.print(f"removed {escape(source)} ({removed} chunk(s))")
        return 0

    _run(body)
