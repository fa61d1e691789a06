"""Putting recalled memories into an agent's prompt, within a character budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.memory.models import MemoryRecord

HEADER = "Memories from your earlier work, most relevant first (they may be outdated; use them only if they help):"


def memory_block(memories: Sequence[MemoryRecord], max_chars: int) -> str:
    """The header plus one line per memory, never longer than ``max_chars`` ("" when nothing fits).

    A memory that does not fit whole is cut only when it is the first; later ones are dropped.
    """
    lines: list[str] = []
    used = len(HEADER)
    for memory in memories:
        line = "- " + " ".join(memory.text.split())
        room = max_chars - used - 1
        if len(line) > room:
            if not lines and room > 40:
                lines.append(line[:room - 1] + "…")
            break
        lines.append(line)
        used += 1 + len(line)
    return HEADER + "\n" + "\n".join(lines) if lines else ""


def with_system_block(messages: Sequence[Mapping[str, Any]], block: str) -> list[dict[str, Any]]:
    """A copy of ``messages`` whose system prompt ends with ``block`` (or gains one); unchanged for ""."""
    out = [dict(m) for m in messages]
    if not block:
        return out
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0]["content"] = f"{out[0]['content']}\n\n{block}"
    else:
        out.insert(0, {"role": "system", "content": block})
    return out


def with_memories(messages: Sequence[Mapping[str, Any]], memories: Sequence[MemoryRecord],
                  max_chars: int) -> list[dict[str, Any]]:
    """A copy of ``messages`` whose system prompt ends with the memory block (or gains one)."""
    return with_system_block(messages, memory_block(memories, max_chars))
