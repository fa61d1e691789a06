"""Role chains: which providers (and models) serve each agent role, in fallback order.

The first three columns of the Artemis rows and the primaries of the Sophia rows are the spec's
"Provider Mapping" tables, verbatim. The spec gives Sophia roles no fallbacks; ours follow the
spec's stated reason for each primary (real-time data, reasoning, empathy, numbers) with the next
best providers for that reason, ending on a different vendor so "error only if all providers
fail" holds even when one vendor is down:

| role                  | 1st (spec)            | 2nd                      | 3rd                         |
|-----------------------|-----------------------|--------------------------|-----------------------------|
| CODE_REVIEWER         | openai/gpt-4o         | anthropic/claude-sonnet-4-5 | deepseek/deepseek-chat   |
| SECURITY_AUDITOR      | anthropic/claude-sonnet-4-5 | openai/gpt-4o      | deepseek/deepseek-reasoner  |
| PERFORMANCE_OPTIMIZER | deepseek/deepseek-chat | groq/llama-3.3-70b-versatile | mistral/mistral-large-latest |
| VULNERABILITY_SCANNER | groq/llama-3.3-70b-versatile | together/Llama-3.3-70B-Instruct-Turbo | mistral/codestral-latest |
| MARKET_ANALYST        | perplexity/sonar-pro  | openai/gpt-4o            | anthropic/claude-sonnet-4-5 |
| SALES_STRATEGIST      | openai/gpt-4o         | anthropic/claude-sonnet-4-5 | mistral/mistral-large-latest |
| CUSTOMER_SUCCESS      | anthropic/claude-sonnet-4-5 | openai/gpt-4o      | mistral/mistral-large-latest |
| FINANCIAL_ANALYST     | deepseek/deepseek-reasoner | openai/gpt-4o       | anthropic/claude-sonnet-4-5 |

Why those Sophia fallbacks: MARKET_ANALYST falls to the strongest general models when live search
is unavailable (answers then carry no citations); SALES_STRATEGIST keeps two reasoning models
before Mistral; CUSTOMER_SUCCESS keeps a careful, polite tone (OpenAI, then Mistral);
FINANCIAL_ANALYST uses DeepSeek's reasoning model for numbers, then two general models.

Override any chain with ROLE_CHAINS (JSON), e.g.
``ROLE_CHAINS='{"artemis/code_reviewer": ["openai/gpt-4.1", "anthropic"]}'``.
"""

from __future__ import annotations

ROLE_CHAINS: dict[str, tuple[str, ...]] = {
    "artemis/code_reviewer": ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "deepseek/deepseek-chat"),
    "artemis/security_auditor": ("anthropic/claude-sonnet-4-5", "openai/gpt-4o", "deepseek/deepseek-reasoner"),
    "artemis/performance_optimizer": ("deepseek/deepseek-chat", "groq/llama-3.3-70b-versatile",
                                      "mistral/mistral-large-latest"),
    "artemis/vulnerability_scanner": ("groq/llama-3.3-70b-versatile",
                                      "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                                      "mistral/codestral-latest"),
    "sophia/market_analyst": ("perplexity/sonar-pro", "openai/gpt-4o", "anthropic/claude-sonnet-4-5"),
    "sophia/sales_strategist": ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "mistral/mistral-large-latest"),
    "sophia/customer_success": ("anthropic/claude-sonnet-4-5", "openai/gpt-4o", "mistral/mistral-large-latest"),
    "sophia/financial_analyst": ("deepseek/deepseek-reasoner", "openai/gpt-4o", "anthropic/claude-sonnet-4-5"),
}


def role_key(domain: str, role: str) -> str:
    """The ``domain/role`` key that role chains are listed under (the role lower-cased)."""
    return f"{domain}/{role.lower()}"


def chain_for(domain: str, role: str, overrides: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    """The providers a role's calls go to, in order: the override for it if set, else the default chain."""
    key = role_key(domain, role)
    if overrides and key in overrides:
        return tuple(overrides[key])
    return ROLE_CHAINS[key]
