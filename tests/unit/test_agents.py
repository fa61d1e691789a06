import pytest

from app.agents.base import agent_id
from app.agents.results import ExecutionResult, parse_insight
from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.core.errors import ConfigurationError, InvalidRequestError
from app.core.manager import PortkeyManager
from app.core.settings import load_settings
from app.routing import load_policy
from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory

BUILTIN = load_policy(load_settings(_env_file=None))

SPEC_TABLE = {
    "artemis/code_reviewer": ["openai", "anthropic", "deepseek"],
    "artemis/security_auditor": ["anthropic", "openai", "deepseek"],
    "artemis/performance_optimizer": ["deepseek", "groq", "mistral"],
    "artemis/vulnerability_scanner": ["groq", "together", "mistral"],
}
SPEC_PRIMARIES = {"sophia/market_analyst": "perplexity", "sophia/sales_strategist": "openai",
                  "sophia/customer_success": "anthropic", "sophia/financial_analyst": "deepseek"}


def test_role_chains_match_the_spec_tables():
    assert list(BUILTIN.roles) == [*SPEC_TABLE, *SPEC_PRIMARIES]  # the spec's eight roles, nothing else
    for role, providers in SPEC_TABLE.items():
        assert [e.partition("/")[0] for e in BUILTIN.role(role).strategy.targets] == providers
    for role, primary in SPEC_PRIMARIES.items():
        chain = [e.partition("/")[0] for e in BUILTIN.role(role).strategy.targets]
        assert chain[0] == primary and len(set(chain)) == 3  # every Sophia role has two fallbacks


def test_prompts_are_written_for_each_role():
    auditor = BUILTIN.role("artemis/security_auditor").prompt_for("S", "vulnerability_detection")
    assert auditor.startswith("You are S, an application security auditor specialising in vulnerability "
                              "detection. Audit what you are given and list each finding as: title; CWE id")
    assert "line" in BUILTIN.role("artemis/code_reviewer").prompt_for("R", "python")
    market = BUILTIN.role("sophia/market_analyst").prompt_for("M", "technology")
    assert market.endswith('Answer in JSON only, with the keys: "summary" (2-4 sentences), "key_points" (list of '
                           'strings), "recommendations" (list of strings), "confidence" (number from 0 to 1), '
                           '"sources" (list of URLs or publications).')
    assert "technology" in market


def factories():
    manager = PortkeyManager(load_settings(_env_file=None, openai_api_key="sk-abc123def456ghi789"))
    return ArtemisFactory(manager), SophiaFactory(manager)


async def test_agents_have_stable_ids_and_roles_are_checked():
    artemis, _ = factories()
    agent = await artemis.create_agent_with_portkey("SecurityScanner", TechnicalAgentRole.SECURITY_AUDITOR,
                                                    "vulnerability_detection")
    assert agent.id == agent_id("artemis", "SecurityScanner") == agent_id("artemis", "securityscanner")
    again = await artemis.create_agent_with_portkey("SecurityScanner", "security_auditor", "other")
    assert again is agent
    with pytest.raises(InvalidRequestError, match="already exists as SECURITY_AUDITOR"):
        await artemis.create_agent_with_portkey("SecurityScanner", TechnicalAgentRole.CODE_REVIEWER, "x")
    other, _ = factories()  # a new process addresses the same agent
    assert (await other.create_agent_with_portkey("SecurityScanner", "SECURITY_AUDITOR", "x")).id == agent.id


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a, s, ag, bg: a.create_agent_with_portkey("", TechnicalAgentRole.CODE_REVIEWER, "x"), "name"),
        (lambda a, s, ag, bg: a.create_agent_with_portkey("n", "WIZARD", "x"), "unknown role"),
        (lambda a, s, ag, bg: a.create_agent_with_portkey("n", BusinessAgentRole.MARKET_ANALYST, "x"), "unknown role"),
        (lambda a, s, ag, bg: a.execute_with_portkey(ag, "", max_tokens=10), "prompt"),
        (lambda a, s, ag, bg: a.execute_with_portkey(ag, "p", max_tokens=0), "max_tokens"),
        (lambda a, s, ag, bg: a.execute_with_portkey(bg, "p", max_tokens=10), "artemis factory"),
        (lambda a, s, ag, bg: s.generate_business_insight(bg, "q", context=["not", "a", "mapping"]), "mapping"),
        (lambda a, s, ag, bg: s.generate_business_insight(bg, "  ", context={}), "query"),
    ],
)
async def test_bad_input_fails_before_any_network_call(call, error):
    artemis, sophia = factories()  # the gateway URL points nowhere: a network call would fail differently
    agent = await artemis.create_agent_with_portkey("A", TechnicalAgentRole.CODE_REVIEWER, "python")
    business = await sophia.create_business_agent("B", BusinessAgentRole.SALES_STRATEGIST, "retail")
    with pytest.raises(InvalidRequestError, match=error):
        await call(artemis, sophia, agent, business)


def test_role_chain_overrides_are_validated():
    with pytest.raises(ConfigurationError, match="ROLE_CHAINS"):
        load_settings(_env_file=None, role_chains={"wizards/merlin": ["openai"]})
    with pytest.raises(ConfigurationError, match="ROLE_CHAINS names unknown role 'artemis/wizard'"):
        PortkeyManager(load_settings(_env_file=None, role_chains={"artemis/wizard": ["openai"]}))
    s = load_settings(_env_file=None, role_chains={"artemis/code_reviewer": ["groq/llama-3.1-8b-instant"]})
    assert ArtemisFactory(PortkeyManager(s)).role_chain("code_reviewer") == ("groq/llama-3.1-8b-instant",)


def execution(content: str) -> ExecutionResult:
    return ExecutionResult(content=content, provider="openai", model="gpt-4o", fallback_used=False, attempts=[],
                           latency_ms=1.0, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                           trace_id="t", agent_id="a", role="market_analyst")


def test_insight_parsing_reads_json_and_tolerates_prose():
    good = parse_insight(execution('```json\n{"summary": "S", "key_points": ["k"], "recommendations": "r", '
                                   '"confidence": 85, "sources": ["https://x.example/report"]}\n```'),
                         ["https://news.example/a"])
    assert (good.summary, good.key_points, good.recommendations, good.confidence) == ("S", ["k"], ["r"], 0.85)
    assert good.citations == ["https://news.example/a", "https://x.example/report"]
    prose = parse_insight(execution("AI adoption is growing fast."), [])
    assert prose.summary == "AI adoption is growing fast." and prose.confidence is None
    assert parse_insight(execution('{"summary": "S", "confidence": "high"}'), []).confidence is None
