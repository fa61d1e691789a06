"""The spec's three collections and what their payloads hold.

Every point's id is a uuid5 of its content (or of the agent), so rewriting the same thing replaces it.
Times are ISO-8601 UTC strings plus ``ts`` (seconds since the epoch) for ordering.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """One collection of the spec: its name, what it is for and what its payloads hold."""

    name: str
    description: str
    payload: MappingProxyType[str, str]
    """Payload field -> meaning."""
    keyword_fields: tuple[str, ...]
    """Fields filtered on; indexed where the engine has payload indexes."""


_PROFILE = {
    "kind": '"agent_profile"',
    "agent_id": "the agent's id (uuid5 of domain and name)",
    "name": "the agent's name",
    "domain": '"artemis" or "sophia"',
    "role": "the role's value, e.g. security_auditor",
    "focus": "the specialty (Artemis) or business domain (Sophia)",
    "system_prompt": "the role prompt the agent runs with",
    "created_at": "ISO-8601 UTC",
    "ts": "seconds since the epoch",
}

ARTEMIS_TACTICAL = CollectionSpec(
    "artemis_tactical", "Tactical agent profiles and operations (Artemis); vector: the profile text",
    MappingProxyType(_PROFILE), ("kind", "agent_id", "role"),
)

SOPHIA_KNOWLEDGE = CollectionSpec(
    "sophia_knowledge",
    "Business insights and knowledge (Sophia): agent profiles and every generated insight; "
    "vector: the profile text, or the question plus the insight's summary",
    MappingProxyType({
        **_PROFILE,
        "kind": '"agent_profile" or "business_insight"',
        "query": "insight: the question asked",
        "summary": "insight: the summary",
        "key_points": "insight: list of strings",
        "recommendations": "insight: list of strings",
        "confidence": "insight: 0..1 or absent",
        "citations": "insight: list of sources",
        "provider": "insight: the provider that answered",
        "trace_id": "insight: the request's trace id",
    }),
    ("kind", "agent_id", "role"),
)

AGENT_MEMORY = CollectionSpec(
    "agent_memory", "Long-term memory of every agent of both systems; vector: the memory's text",
    MappingProxyType({
        "agent_id": "the agent the memory belongs to",
        "domain": '"artemis" or "sophia"',
        "role": "the agent's role",
        "text": "what is remembered (bounded)",
        "source": '"exchange" (a prompt and its answer), "manual", or a caller\'s label',
        "created_at": "ISO-8601 UTC of the first time it was remembered",
        "updated_at": "ISO-8601 UTC of the last time it (or a near-duplicate) was remembered",
        "ts": "updated_at in seconds since the epoch",
        "times_seen": "how many near-duplicates were merged into it",
    }),
    ("agent_id", "domain", "role"),
)

COLLECTIONS: MappingProxyType[str, CollectionSpec] = MappingProxyType(
    {c.name: c for c in (ARTEMIS_TACTICAL, SOPHIA_KNOWLEDGE, AGENT_MEMORY)})

DOMAIN_COLLECTIONS = MappingProxyType({"artemis": ARTEMIS_TACTICAL.name, "sophia": SOPHIA_KNOWLEDGE.name})
"""Where each system's agent profiles go."""
