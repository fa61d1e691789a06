"""The change log behind ``Memory.history()``: one SQLite table, the columns Mem0's own history has.

Kept apart from the vector store so that a memory's history outlives the memory (a DELETE is the
last event). SQLite calls are short and run on a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from typing import Any

_COLUMNS = ("id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at", "is_deleted",
            "actor_id", "role")


class HistoryLog:
    """Mem0's history table in one SQLite file (``:memory:`` for none), opened on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            if self.path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._connection = sqlite3.connect(self.path, check_same_thread=False)
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, "
                "new_memory TEXT, event TEXT, created_at TEXT, updated_at TEXT, is_deleted INTEGER, "
                "actor_id TEXT, role TEXT)")
            self._connection.execute("CREATE INDEX IF NOT EXISTS history_memory ON history (memory_id)")
            self._connection.commit()
        return self._connection

    def add(self, memory_id: str, old: str | None, new: str | None, event: str, *, created_at: str | None,
            updated_at: str | None, actor_id: str | None = None, role: str | None = None) -> None:
        """Record one event (``ADD``, ``UPDATE`` or ``DELETE``) of a memory."""
        row = (str(uuid.uuid4()), memory_id, old, new, event, created_at, updated_at, int(event == "DELETE"),
               actor_id, role)
        with self._lock:
            db = self._db()
            db.execute(f"INSERT INTO history ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", row)
            db.commit()

    def get(self, memory_id: str) -> list[dict[str, Any]]:
        """Every event of the memory, oldest first (insertion order breaks ties of equal timestamps)."""
        with self._lock:
            rows = self._db().execute(
                f"SELECT {', '.join(_COLUMNS)} FROM history WHERE memory_id = ? ORDER BY rowid", (memory_id,),
            ).fetchall()
        return [{**dict(zip(_COLUMNS, row, strict=True)), "is_deleted": bool(row[7])} for row in rows]

    def reset(self) -> None:
        """Delete every event."""
        with self._lock:
            db = self._db()
            db.execute("DELETE FROM history")
            db.commit()

    def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
