"""Long-term agent memory (the spec's "Mem0" role) on the vector stores of app.vectors.

    memory = AgentMemory(store, embedder)            # the composition root (app.runtime) builds one
    await memory.add(agent_id, "text", domain="artemis", role="code_reviewer")
    await memory.search(agent_id, "query")  /  search_domain("sophia", "query")
    await memory.list_memories(agent_id)  /  forget(agent_id, memory_id)  /  forget_all(agent_id)

It deals in agent ids and plain text; what agents remember and recall is app.agents.memory.
"""

from app.memory.batching import BatchingEmbedder
from app.memory.models import AddResult, MemoryRecord
from app.memory.store import DEFAULT_DEDUP_THRESHOLD, AgentMemory, memory_id

__all__ = ["DEFAULT_DEDUP_THRESHOLD", "AddResult", "AgentMemory", "BatchingEmbedder", "MemoryRecord", "memory_id"]
