"""An agent: a named role of one domain, with its system prompt.

An agent's id is derived from its factory's domain and its name (uuid5), so a restarted process
addresses the same agent, its cache entries and its memories.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field

_AGENT_NAMESPACE = uuid.UUID("6f1c3c52-3d0b-4c55-9a55-2a1f3f1d8e01")
MAX_NAME = 100


def agent_id(domain: str, name: str) -> str:
    """The agent's stable id: a uuid5 of the domain and the name (case and outer spaces ignored)."""
    return str(uuid.uuid5(_AGENT_NAMESPACE, f"{domain}:{name.strip().lower()}"))


class Agent(BaseModel):
    """A registered agent; the same domain and name give the same agent, in any process."""

    id: str
    name: str
    domain: str
    """``artemis`` or ``sophia``."""
    role: str
    """The role's value, e.g. ``security_auditor``."""
    focus: str
    """The specialty (Artemis) or business domain (Sophia)."""
    system_prompt: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def specialty(self) -> str:
        """The focus of an Artemis agent (the spec's name for it)."""
        return self.focus

    @property
    def business_domain(self) -> str:
        """The focus of a Sophia agent (the spec's name for it)."""
        return self.focus
