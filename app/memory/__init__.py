"""Long-term agent memory (the spec's "Mem0" role) on the vector stores of app.vectors.

    memory = default_memory(get_settings())          # None when MEMORY_ENABLED=false
    await memory.add(agent.id, "text", domain="artemis", role="code_reviewer")
    await memory.search(agent.id, "query")  /  search_domain("sophia", "query")
    await memory.list_memories(agent.id)  /  forget(agent.id, memory_id)  /  forget_all(agent.id)

Mem0's API over the same stores: ``Memory()`` (sync) and ``AsyncMemory()``, see app.memory.mem0.
"""

from app.memory.batching import BatchingEmbedder
from app.memory.mem0 import AsyncMemory, Memory
from app.memory.models import AddResult, MemoryRecord
from app.memory.process import default_memory, reset_memory
from app.memory.store import DEFAULT_DEDUP_THRESHOLD, AgentMemory, memory_id

__all__ = ["DEFAULT_DEDUP_THRESHOLD", "AddResult", "AgentMemory", "AsyncMemory", "BatchingEmbedder", "Memory",
           "MemoryRecord", "default_memory", "memory_id", "reset_memory"]
