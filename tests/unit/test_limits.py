"""Limits and budgets per role, agent and API token, in process memory (Redis: tests/integration/test_chaos.py)."""

from __future__ import annotations

import pytest

from app.core.errors import BudgetExceededError, LimitsUnavailableError, RateLimitExceededError
from app.core.manager import PortkeyManager
from app.core.settings import CallerLimits, load_settings
from app.resilience import CallLimits, token_digest
from tests.unit.fake_gateway import URL, FakeGateway
from tests.unit.test_failover import HOSTS, KEYS

ROLE = {"domain": "sophia", "role": "market_analyst", "agent_id": "a-1"}


def manager_with(limits: CallLimits, gateway: FakeGateway | None = None) -> PortkeyManager:
    settings = load_settings(_env_file=None, portkey_base_url=URL, max_retries=0, **KEYS, **HOSTS)
    return PortkeyManager(settings, transport=(gateway or FakeGateway()).transport(), limits=limits)


async def ask(manager: PortkeyManager, metadata: dict[str, str]):
    return await manager.acreate_completion("openai/gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                            fallbacks=[], metadata=metadata)


async def test_requests_per_minute_per_role_refuse_before_any_network_call():
    gateway = FakeGateway()
    manager = manager_with(CallLimits({"*": CallerLimits(requests_per_minute=2)}, {}, {}), gateway)
    await ask(manager, ROLE)
    await ask(manager, ROLE)
    with pytest.raises(RateLimitExceededError) as caught:
        await ask(manager, ROLE)
    error = caught.value
    assert (error.scope, error.subject, error.limit, error.allowed) == ("role", "sophia/market_analyst",
                                                                        "requests_per_minute", 2)
    assert 0 < error.retry_after <= 60 and "retry in" in str(error)
    assert len(gateway.requests) == 2
    await ask(manager, {**ROLE, "role": "sales_strategist"})  # another role has its own window


async def test_tokens_per_minute_count_what_calls_used():
    manager = manager_with(CallLimits({}, {"*": CallerLimits(tokens_per_minute=10)}, {}))
    await ask(manager, ROLE)  # 7 tokens (the fake gateway's usage)
    await ask(manager, ROLE)  # 14: over, counted after the call
    with pytest.raises(RateLimitExceededError) as caught:
        await ask(manager, ROLE)
    assert (caught.value.scope, caught.value.limit) == ("agent", "tokens_per_minute")


async def test_a_spent_budget_is_402_material_naming_when_it_resets():
    limits = CallLimits({}, {}, {"*": CallerLimits(usd_per_day=0.00001)})
    manager = manager_with(limits)
    caller = {"api_token": "sk-caller-secret"}
    await ask(manager, caller)  # gpt-4o, 3 + 4 tokens: about $0.00005
    with pytest.raises(BudgetExceededError) as caught:
        await ask(manager, caller)
    error = caught.value
    assert error.scope == "api_token" and error.subject == token_digest("sk-caller-secret")
    assert "sk-caller-secret" not in str(error) and error.limit == "usd_per_day" and error.resets_at > 0


class BrokenStorage:
    async def get(self, key):
        raise ConnectionError("down")

    async def incr(self, key, expiry, amount=1):
        raise ConnectionError("down")


@pytest.mark.parametrize("fail_closed", [False, True], ids=["fail-open", "fail-closed"])
async def test_a_store_that_is_down_lets_calls_through_unless_told_otherwise(fail_closed):
    limits = CallLimits({"*": CallerLimits(usd_per_day=1)}, {}, {}, fail_closed=fail_closed)
    limits.storage = BrokenStorage()
    manager = manager_with(limits)
    if fail_closed:
        with pytest.raises(LimitsUnavailableError):
            await ask(manager, ROLE)
    else:
        assert (await ask(manager, ROLE)).content


def test_unknown_roles_in_role_limits_are_refused_at_start():
    from app.core.errors import ConfigurationError
    from app.routing import load_policy

    with pytest.raises(ConfigurationError, match="ROLE_LIMITS"):
        load_settings(_env_file=None, role_limits={"nobody": {"requests_per_minute": 1}})
    # whether a role exists, the routing policy knows (its file may add roles); it is loaded at start
    with pytest.raises(ConfigurationError, match="ROLE_LIMITS names unknown role"):
        load_policy(load_settings(_env_file=None, role_limits={"sophia/nobody": {"requests_per_minute": 1}}))
