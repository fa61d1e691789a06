"""Sophia: business agents (market analysis, sales strategy, customer success, finance).

    factory = get_portkey_sophia_factory()
    agent = await factory.create_business_agent(name="MarketAnalyst", role=BusinessAgentRole.MARKET_ANALYST,
                                                business_domain="technology")
    insight = await factory.generate_business_insight(agent=agent, query="What are the key trends in AI adoption?",
                                                      context={"industry": "enterprise_software"})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from app.agents.base import Agent, AgentFactoryBase, check_max_tokens, check_text
from app.agents.memory import remember_insight
from app.agents.results import INSIGHT_OUTPUT, BusinessInsight, ExecutionResult, parse_insight
from app.core.errors import InvalidRequestError
from app.runtime import FactorySlot

__all__ = ["BusinessAgentRole", "BusinessInsight", "ExecutionResult", "SophiaFactory", "get_portkey_sophia_factory"]

MAX_QUERY = 50_000
MAX_CONTEXT = 50_000


class BusinessAgentRole(str, Enum):
    """The spec's roles of Sophia agents; each has its own prompt and provider chain (in the built-in
    routing file). Roles the routing file adds (``sophia/pricing_analyst``...) are used by name."""

    MARKET_ANALYST = "market_analyst"
    SALES_STRATEGIST = "sales_strategist"
    CUSTOMER_SUCCESS = "customer_success"
    FINANCIAL_ANALYST = "financial_analyst"


class SophiaFactory(AgentFactoryBase):
    """Creates Sophia agents and answers business questions as structured insights."""

    domain = "sophia"
    role_enum = BusinessAgentRole
    default_output = INSIGHT_OUTPUT

    async def create_business_agent(self, name: str, role: BusinessAgentRole | str,
                                    business_domain: str = "general") -> Agent:
        """Register a Sophia agent (or return the one of that name); ``role`` is a ``BusinessAgentRole``
        or the name of a Sophia role of the routing file (``"pricing_analyst"``).

        Raises ``InvalidRequestError`` for an unknown role (listing the known ones) or a name taken by
        another role.
        """
        return await self._create(name, role, business_domain, "business_domain")  # into sophia_knowledge

    async def generate_business_insight(self, agent: Agent, query: str,
                                        context: Mapping[str, Any] | None = None,
                                        max_tokens: int = 2000, **params: Any) -> BusinessInsight:
        """Answer ``query`` given ``context`` (JSON-serialisable) as ``agent``.

        A grounded role (all of Sophia's by default) answers from the document store's chunks closest to
        ``query``, and ``citations`` lists them (``source#chunk``) after the provider's web citations.
        The insight is recorded in ``sophia_knowledge`` when memory is on. Raises ``InvalidRequestError``
        for bad input and the manager's errors for a failed call.
        """
        agent = self._check_agent(agent)
        query = check_text(query, "query", MAX_QUERY)
        max_tokens = check_max_tokens(max_tokens)
        if context is None:
            context = {}
        if not isinstance(context, Mapping):
            raise InvalidRequestError(f"context must be a mapping (dict), got {type(context).__name__}")
        try:
            context_text = json.dumps(dict(context), default=str, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(f"context cannot be serialised: {exc}") from None
        if len(context_text) > MAX_CONTEXT:
            raise InvalidRequestError(f"context is larger than {MAX_CONTEXT} characters as JSON")
        user = f"Question: {query}\nContext (JSON): {context_text}\nRespond with the JSON object only."
        messages = [{"role": "system", "content": agent.system_prompt}, {"role": "user", "content": user}]
        params.setdefault("temperature", 0.3)
        execution, completion = await self._execute(agent, messages, max_tokens, query=query, **params)
        web = [str(c) for c in (completion.model_extra or {}).get("citations") or []]
        insight = parse_insight(execution, [*web, *execution.citations])
        if self.memory is not None and not execution.cached:  # a cached insight is already recorded
            await remember_insight(self.memory, agent, query, insight)  # into sophia_knowledge
        return insight


_slot = FactorySlot(SophiaFactory)


def get_portkey_sophia_factory() -> SophiaFactory:
    """The process's Sophia factory, on the process's one manager."""
    return _slot.get()
