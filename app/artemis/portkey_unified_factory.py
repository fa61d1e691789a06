"""Artemis: technical agents (code review, security audit, performance, vulnerability scanning).

    factory = get_portkey_artemis_factory()
    agent = await factory.create_agent_with_portkey(name="SecurityScanner",
                                                    role=TechnicalAgentRole.SECURITY_AUDITOR,
                                                    specialty="vulnerability_detection")
    result = await factory.execute_with_portkey(agent=agent, prompt="Analyze this code ...", max_tokens=2000)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from app.agents.base import Agent, AgentFactoryBase, check_max_tokens, check_text
from app.agents.results import ExecutionResult
from app.runtime import FactorySlot

__all__ = ["ArtemisFactory", "ExecutionResult", "TechnicalAgentRole", "get_portkey_artemis_factory"]

MAX_PROMPT = 200_000


class TechnicalAgentRole(str, Enum):
    """The spec's roles of Artemis agents; each has its own prompt and provider chain (in the built-in
    routing file). Roles the routing file adds (``artemis/test_writer``...) are used by name."""

    CODE_REVIEWER = "code_reviewer"
    SECURITY_AUDITOR = "security_auditor"
    PERFORMANCE_OPTIMIZER = "performance_optimizer"
    VULNERABILITY_SCANNER = "vulnerability_scanner"


class ArtemisFactory(AgentFactoryBase):
    """Creates Artemis agents and runs their tasks along their role's strategy."""

    domain = "artemis"
    role_enum = TechnicalAgentRole

    async def create_agent_with_portkey(self, name: str, role: TechnicalAgentRole | str,
                                        specialty: str = "general") -> Agent:
        """Register an Artemis agent (or return the one of that name); ``role`` is a ``TechnicalAgentRole``
        or the name of an Artemis role of the routing file (``"test_writer"``).

        Raises ``InvalidRequestError`` for an unknown role (listing the known ones) or a name taken by
        another role.
        """
        return await self._create(name, role, specialty, "specialty")  # profile into artemis_tactical

    async def execute_with_portkey(self, agent: Agent, prompt: str, max_tokens: int = 2000,
                                   **params: Any) -> ExecutionResult:
        """Run ``prompt`` as ``agent``'s task along its role's chain; ``params`` go to the completion.

        Raises the manager's errors (``ProviderError``, ``GatewayConnectionError``...); memory never fails it.
        """
        agent = self._check_agent(agent)
        prompt = check_text(prompt, "prompt", MAX_PROMPT)
        max_tokens = check_max_tokens(max_tokens)
        messages = [{"role": "system", "content": agent.system_prompt}, {"role": "user", "content": prompt}]
        result, _ = await self._execute(agent, messages, max_tokens, **params)
        return result


_slot = FactorySlot(ArtemisFactory)


def get_portkey_artemis_factory() -> ArtemisFactory:
    """The process's Artemis factory, on the process's one manager."""
    return _slot.get()
