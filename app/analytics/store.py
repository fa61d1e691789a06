"""The request-record store: SQLAlchemy async over aiosqlite (default) or asyncpg (DATABASE_URL).

Three tables: ``<prefix>requests`` (one row per call), ``<prefix>feedback`` (scores given to calls
afterwards, by trace id) and ``<prefix>workflow_runs`` (one row per workflow run, whose calls share
its trace id; ``app.analytics.runs``). Writes never slow a request: observers only enqueue, and one background
task inserts in batches. A database that fails degrades analytics alone: one warning per failure
streak, the lost rows counted in ``sophia_analytics_rows_dropped``, requests unaffected.

A table written by an older version gains the columns added since (``ALTER TABLE ... ADD COLUMN``,
nullable, so old rows read as NULL) when the store starts: no migration step to run by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.analytics import metrics
from app.analytics.records import RequestRecord, record_from_call
from app.analytics.runs import RunRecord, run_from_row, runs_table
from app.core.errors import ConfigurationError
from app.core.loops import call_in_loop
from app.core.observation import MAX_COMMENT, CallRecord, FeedbackRecord

log = logging.getLogger("app.analytics")

SQLITE_FILE = "analytics.db"
QUEUE_SIZE = 10_000
BATCH = 500
BATCH_WAIT = 0.5
"""Seconds the writer waits after a row for more before it writes: one transaction per interval, not
per request (a one-row transaction cost a sequentially used service ~9% of its CPU)."""
# Calls made by the health checker are probes, not traffic: they would distort every chart.
_SKIPPED_PURPOSES = {"health"}


def database_url(settings: Any) -> str:
    """The SQLAlchemy async URL: DATABASE_URL with its async driver, or SQLite in SOPHIA_DATA_DIR."""
    raw = settings.database_url.get_secret_value() if settings.database_url else ""
    if not raw:
        return f"sqlite+aiosqlite:///{Path(getattr(settings, 'sophia_data_dir', '.sophia')) / SQLITE_FILE}"
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite://", "sqlite+aiosqlite://")):
        if raw.startswith(plain):
            return driver + raw[len(plain):]
    return raw


def _table(metadata: MetaData, prefix: str) -> Table:
    return Table(
        f"{prefix}requests", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("ts", Float, nullable=False, index=True),
        Column("kind", String(16), nullable=False),
        Column("trace_id", String(64), nullable=False),
        Column("domain", String(32)),
        Column("agent_id", String(64)),
        Column("role", String(64)),
        Column("requested", String(200), nullable=False),
        Column("requested_provider", String(32), nullable=False),
        Column("provider", String(32)),
        Column("model", String(200)),
        Column("served_index", Integer),
        Column("fallback_used", Boolean, nullable=False),
        Column("latency_ms", Float, nullable=False),
        Column("prompt_tokens", Integer, nullable=False),
        Column("completion_tokens", Integer, nullable=False),
        Column("cost_usd", Float),
        Column("cache_status", String(16)),
        Column("error_class", String(64)),
        Column("attempts", String(2000), nullable=False),
        # Added with routing policies; tables of older versions gain them at start (see _migrate).
        Column("route", String(64)),
        Column("variant", String(100)),
        Column("complexity", String(16)),
        Index(f"ix_{prefix}requests_route", "route"),
    )


def _feedback_table(metadata: MetaData, prefix: str) -> Table:
    return Table(
        f"{prefix}feedback", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("ts", Float, nullable=False),
        Column("trace_id", String(64), nullable=False, index=True),
        Column("score", Float, nullable=False),
        Column("comment", String(MAX_COMMENT)),
    )


def _migrate(conn: Connection, table: Table) -> list[str]:
    """Add the columns (and indexes) ``table`` has in this version but not in the database; their names."""
    existing = {c["name"] for c in inspect(conn).get_columns(table.name)}
    added = []
    preparer = conn.dialect.identifier_preparer
    for column in table.columns:
        if column.name not in existing:
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN "
                                 f"{preparer.quote(column.name)} {kind}")
            added.append(column.name)
    for index in table.indexes:
        index.create(conn, checkfirst=True)
    return added


@dataclass(frozen=True, slots=True)
class ProviderStats:
    """One provider's totals over a period; latencies in milliseconds, cost in US dollars."""

    provider: str
    requests: int
    errors: int
    fallbacks: int
    cache_hits: int
    avg_latency_ms: float
    max_latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class AnalyticsStore:
    """Writes a row per call to PostgreSQL or SQLite in the background, and reads stats back.

    Writing never blocks or fails a call: rows are dropped (and counted) when the queue is full or the
    database fails.
    """

    def __init__(self, url: str, *, table_prefix: str = "sophia_") -> None:
        self.url = url
        self._metadata = MetaData()
        self.table = _table(self._metadata, table_prefix)
        self.feedback_table = _feedback_table(self._metadata, table_prefix)
        self.runs_table = runs_table(self._metadata, table_prefix)
        self._widths = {c.name: c.type.length for c in self.table.columns
                        if isinstance(c.type, String) and c.type.length}
        self._engine: AsyncEngine | None = None
        self._queue: asyncio.Queue[RequestRecord | FeedbackRecord | RunRecord] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.Task[None] | None = None
        self._write_now: asyncio.Event | None = None
        """Set when a batch is full or ``flush`` waits: the writer stops waiting for more rows."""
        self._flushing = 0
        self._failing = False

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> AnalyticsStore:
        """A store on ``DATABASE_URL``, or on SQLite in ``SOPHIA_DATA_DIR`` when it is not set."""
        return cls(database_url(settings), **kwargs)

    @property
    def backend(self) -> str:
        """The database's dialect (``postgresql``, ``sqlite``), safe to show: no credentials."""
        return self.url.split(":", 1)[0].split("+", 1)[0]

    def _sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.url.startswith(prefix) and ":memory:" not in self.url:
            return Path(self.url[len(prefix):])
        return None

    async def start(self) -> AnalyticsStore:
        """Create the table if needed and start the writer. A database that is down is logged, not raised."""
        path = self._sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._engine = create_async_engine(self.url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:  # a malformed URL, or a driver that is not installed
            raise ConfigurationError(
                f"DATABASE_URL is not a usable database URL ({type(exc).__name__}); use "
                "postgresql://user:password@host:5432/db or sqlite:///path/to/file.db",
                env_vars=["DATABASE_URL"],
            ) from None
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(QUEUE_SIZE)
        self._write_now = asyncio.Event()
        try:
            await self._create_table()
        except Exception as exc:  # noqa: BLE001 - analytics degrade, the service starts anyway
            self._warn(exc)
        self._writer = asyncio.create_task(self._write_loop(), name="analytics-writer")
        return self

    async def _create_table(self) -> None:
        assert self._engine is not None
        async with self._engine.begin() as conn:
            await conn.run_sync(self._metadata.create_all)
            added = await conn.run_sync(_migrate, self.table)
        if added:
            log.info("analytics: added column(s) %s to %s", ", ".join(added), self.table.name)

    async def drop_table(self) -> None:
        """Drop the requests and feedback tables and their rows (tests clean up with it)."""
        assert self._engine is not None
        async with self._engine.begin() as conn:
            await conn.run_sync(self._metadata.drop_all)

    # ----- writing ------------------------------------------------------------------------------

    def observe(self, record: CallRecord) -> None:
        """Manager observer: enqueue one row; never blocks, never raises.

        The sync API runs calls on the sync bridge's thread, so rows are handed to the store's loop.
        """
        if record.metadata.get("purpose") in _SKIPPED_PURPOSES:
            return
        self._submit(record_from_call(record))

    def observe_feedback(self, record: FeedbackRecord) -> None:
        """Manager feedback observer: enqueue the score; never blocks, never raises."""
        self._submit(record)

    def observe_run(self, record: RunRecord) -> None:
        """Enqueue a finished workflow run; never blocks, never raises."""
        self._submit(record)

    def _submit(self, row: RequestRecord | FeedbackRecord | RunRecord) -> None:
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            metrics.DROPPED.labels("not_started").inc()
            return
        call_in_loop(loop, self._put, row)

    def _put(self, row: RequestRecord | FeedbackRecord | RunRecord) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            metrics.DROPPED.labels("queue_full").inc()
        if self._queue.qsize() >= BATCH and self._write_now is not None:
            self._write_now.set()

    async def _write_loop(self) -> None:
        assert self._queue is not None and self._write_now is not None
        queue, write_now = self._queue, self._write_now
        while True:
            batch = [await queue.get()]
            if not self._flushing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(BATCH_WAIT):
                        await write_now.wait()
            write_now.clear()
            while len(batch) < BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._insert(batch)
                metrics.WRITTEN.inc(len(batch))
                if self._failing:
                    log.warning("analytics database is writable again")
                self._failing = False
            except Exception as exc:  # noqa: BLE001
                metrics.DROPPED.labels("database_error").inc(len(batch))
                self._warn(exc)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _insert(self, batch: list[RequestRecord | FeedbackRecord | RunRecord]) -> None:
        assert self._engine is not None
        rows = [self._fit(r.as_row()) for r in batch if isinstance(r, RequestRecord)]
        scores = [{"ts": f.ts, "trace_id": f.trace_id, "score": f.score, "comment": f.comment}
                  for f in batch if isinstance(f, FeedbackRecord)]
        runs = [r.as_row() for r in batch if isinstance(r, RunRecord)]
        async with self._engine.begin() as conn:
            if self._failing:  # the table may never have been created (the database was down at start)
                await conn.run_sync(self._metadata.create_all)
                await conn.run_sync(_migrate, self.table)
            if rows:
                await conn.execute(insert(self.table), rows)
            if scores:
                await conn.execute(insert(self.feedback_table), scores)
            if runs:
                await conn.execute(insert(self.runs_table), runs)

    def _fit(self, row: dict[str, object]) -> dict[str, object]:
        """Cut strings to their column's width: PostgreSQL rejects the whole batch for one long value."""
        for name, width in self._widths.items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > width:
                row[name] = value[:width]
        return row

    def _warn(self, exc: BaseException) -> None:
        if not self._failing:
            # The URL may hold a password: name the backend and the error class only.
            log.warning("analytics database (%s) failed: %s; requests go on, records are dropped",
                        self.backend, type(exc).__name__)
        self._failing = True

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued record has been written (or dropped)."""
        if self._queue is None or self._write_now is None:
            return
        self._flushing += 1
        self._write_now.set()
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        finally:
            self._flushing -= 1

    async def aclose(self) -> None:
        """Write what is queued (waiting up to 10 s), stop the writer and dispose of the engine."""
        if self._writer is not None:
            try:
                await self.flush()
            except TimeoutError:
                log.warning("analytics: %d records not written at shutdown", self._queue.qsize() if self._queue else 0)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        self._loop = self._queue = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    # ----- reading ------------------------------------------------------------------------------

    async def provider_stats(self, since: float) -> list[ProviderStats]:
        """Per-provider performance since ``since`` (unix time); failed calls count for the requested one,
        cache hits for the provider whose answer was stored, and latency is that of provider answers."""
        assert self._engine is not None
        t = self.table
        who = func.coalesce(t.c.provider, t.c.requested_provider)
        # Latency of the provider's own answers: a cache hit's is the cache's, and would flatter it.
        answered = case((t.c.cache_status.is_(None) & t.c.error_class.is_(None), t.c.latency_ms))
        query = (
            select(
                who.label("provider"), func.count().label("requests"),
                func.count(t.c.error_class).label("errors"),
                func.sum(cast(t.c.fallback_used, Integer)).label("fallbacks"),
                func.count(t.c.cache_status).label("cache_hits"),
                func.avg(answered), func.max(answered),
                func.sum(t.c.prompt_tokens), func.sum(t.c.completion_tokens),
                func.coalesce(func.sum(t.c.cost_usd), 0.0),
            )
            .where(t.c.ts >= since)
            .group_by(who)
            .order_by(func.count().desc())
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ProviderStats(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0), int(r[4]), float(r[5] or 0),
                          float(r[6] or 0), int(r[7] or 0), int(r[8] or 0), float(r[9] or 0))
            for r in rows
        ]

    async def rows_since(self, since: float, limit: int = 50_000) -> list[dict[str, Any]]:
        """The newest ``limit`` rows since ``since``, oldest first (for charts)."""
        assert self._engine is not None
        t = self.table
        query = select(t).where(t.c.ts >= since).order_by(t.c.ts.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(r) for r in reversed(rows)]

    async def experiment_rows(self, since: float, *, route: str | None = None, domain: str | None = None,
                              role: str | None = None, limit: int = 200_000) -> list[dict[str, Any]]:
        """The calls of one route (or one role) since ``since``, each with its latest feedback ``score``
        (None when it got none): what an experiment's comparison reads."""
        assert self._engine is not None
        t, f = self.table, self.feedback_table
        latest = (select(f.c.trace_id, func.max(f.c.id).label("last")).group_by(f.c.trace_id)).subquery()
        scored = select(f.c.trace_id, f.c.score).join(latest, f.c.id == latest.c.last).subquery()
        query = (
            select(t.c.ts, t.c.trace_id, t.c.variant, t.c.provider, t.c.model, t.c.error_class, t.c.fallback_used,
                   t.c.latency_ms, t.c.prompt_tokens, t.c.completion_tokens, t.c.cost_usd, t.c.cache_status,
                   t.c.complexity, scored.c.score)
            .outerjoin(scored, scored.c.trace_id == t.c.trace_id)
            .where(t.c.ts >= since)
            .order_by(t.c.ts)
            .limit(limit)
        )
        if route is not None:
            query = query.where(t.c.route == route)
        if domain is not None and role is not None:
            query = query.where(t.c.domain == domain, t.c.role == role)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [dict(r) for r in rows]

    async def recent_runs(self, since: float, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` workflow runs that ended since ``since``, newest first."""
        assert self._engine is not None
        t = self.runs_table
        query = select(t).where(t.c.ts >= since).order_by(t.c.ts.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [run_from_row(dict(r)) for r in rows]

    async def run(self, trace_id: str) -> dict[str, Any] | None:
        """The workflow run with ``trace_id`` (its latest record), or None."""
        assert self._engine is not None
        t = self.runs_table
        query = select(t).where(t.c.trace_id == trace_id).order_by(t.c.id.desc()).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return run_from_row(dict(row)) if row is not None else None

    async def calls_of(self, trace_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Every call recorded with ``trace_id`` (a workflow run's LLM calls), in the order they ended."""
        assert self._engine is not None
        t = self.table
        query = select(t).where(t.c.trace_id == trace_id).order_by(t.c.ts, t.c.id).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{k: v for k, v in dict(r).items() if k != "id"} for r in rows]

    async def count(self) -> int:
        """How many rows the table holds."""
        assert self._engine is not None
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(self.table))).scalar_one())
