"""The routing file: the issue's example as written, and problems named by line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import ConfigurationError
from app.core.settings import load_settings
from app.routing import RoutingFileError, check_file, load_policy
from app.routing.nodes import Complexity, Conditional, Fallback, Leaf, LoadBalance

EXAMPLE = """\
roles:
  artemis/test_writer:
    description: writes pytest tests for the code it is given
    system_prompt: You write focused, runnable pytest tests.
    strategy: fallback
    targets: [{target: openai/gpt-4o}, {target: deepseek/deepseek-chat}]
routes:
  support_ab:
    strategy: loadbalance
    sticky: metadata.user_id
    targets:
      - {target: openai/gpt-4o-mini, weight: 0.8}
      - {target: groq/llama-3.1-8b-instant, weight: 0.2}
  tiered:
    strategy: conditional
    conditions:
      - query: {metadata.tier: {$eq: premium}}
        then: {target: anthropic/claude-sonnet-4-5}
    default: {target: groq/llama-3.1-8b-instant}
  smart:
    strategy: complexity
    simple: {target: groq/llama-3.1-8b-instant}
    complex: {strategy: fallback, targets: [{target: openai/gpt-4o}, {target: anthropic/claude-sonnet-4-5}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RoutingFileError) as caught:
        check_file(write(tmp_path, text))
    return [f"{p.line}:{p.path}: {p.message}" for p in caught.value.problems]


def test_the_issues_example_loads_as_written(tmp_path):
    policy = load_policy(load_settings(_env_file=None, sophia_routing_file=str(write(tmp_path, EXAMPLE))))
    assert len(policy.roles) == 9 and policy.role("artemis/test_writer").strategy.targets == [
        "openai/gpt-4o", "deepseek/deepseek-chat"]
    ab = policy.route("support_ab").strategy.root
    assert isinstance(ab, LoadBalance) and ab.weights == (0.8, 0.2) and ab.sticky == "metadata.user_id"
    assert ab.names == ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant") and ab.salt == "support_ab"
    tiered = policy.route("tiered").strategy.root
    assert isinstance(tiered, Conditional) and json.loads(tiered.queries[0]) == {"metadata.tier": {"$eq": "premium"}}
    assert isinstance(tiered.default, Leaf) and tiered.names == ("rule-1", "default")
    smart = policy.route("smart").strategy
    assert isinstance(smart.root, Complexity) and isinstance(smart.root.complex, Fallback) and smart.needs_complexity
    assert policy.experiments() == {"support_ab": ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant")}
    assert policy.source.endswith("routing.yaml") and len(policy.version) == 12


def test_routes_check_names_the_version_a_service_loads(tmp_path):
    path = write(tmp_path, EXAMPLE)
    assert check_file(path).version == load_policy(load_settings(_env_file=None, sophia_routing_file=str(path))).version


def test_without_a_file_the_built_in_roles_alone(tmp_path):
    policy = load_policy(load_settings(_env_file=None))
    assert policy.source == "built-in" and not policy.routes and len(policy.roles) == 8


def test_a_file_overrides_a_built_in_role_field_by_field(tmp_path):
    path = write(tmp_path, "roles:\n  artemis/code_reviewer:\n    strategy: fallback\n"
                           "    targets: [{target: groq/llama-3.1-8b-instant}]\n")
    policy = load_policy(load_settings(_env_file=None, sophia_routing_file=str(path)))
    reviewer = policy.role("artemis/code_reviewer")
    assert reviewer.strategy.targets == ["groq/llama-3.1-8b-instant"]
    assert reviewer.system_prompt.startswith("You are {name}, a senior code reviewer")  # kept from the built-in


def test_role_chains_still_override_after_the_file(tmp_path):
    settings = load_settings(_env_file=None, sophia_routing_file=str(write(tmp_path, EXAMPLE)),
                             role_chains={"artemis/test_writer": ["mistral"]})
    assert load_policy(settings).role("artemis/test_writer").strategy.targets == ["mistral"]


@pytest.mark.parametrize(("text", "expected"), [
    ("routes:\n  ab:\n    strategy: loadbalance\n    targets:\n      - {target: openai, weigth: 2}\n",
     "5:routes.ab.targets[0].weigth: unknown field 'weigth' (did you mean 'weight'?)"),
    ("routes:\n  t:\n    strategy: conditional\n    conditions:\n      - query: {metadata.tier: {$equals: x}}\n"
     "        then: {target: groq}\n", "5:routes.t.conditions[0].query.metadata.tier.$equals: unknown operator $equals"),
    ("routes:\n  t:\n    strategy: conditional\n    conditions:\n      - query: {tier: x}\n        then: {target: groq}\n",
     "5:routes.t.conditions[0].query.tier: cannot query 'tier'"),
    ("routes:\n  x:\n    target: nope/model\n", "3:routes.x.target: unknown provider 'nope'"),
    ("routes:\n  x:\n    strategy: roundrobin\n    targets: [{target: groq}]\n",
     "3:routes.x.strategy: unknown strategy 'roundrobin'"),
    ("routes:\n  ab:\n    strategy: loadbalance\n    sticky: user_id\n    targets: [{target: groq}]\n",
     "4:routes.ab.sticky: must be metadata.<key> or params.<key>"),
    ("routes:\n  ab:\n    strategy: loadbalance\n    targets: [{target: groq, weight: -1}, {target: openai}]\n",
     "4:routes.ab.targets[0].weight: must be >= 0, got -1"),
    ("routes:\n  ab:\n    strategy: loadbalance\n    targets: [{target: groq}, {target: groq}]\n",
     "4:routes.ab.targets[1]: two branches are called 'groq'"),
    ("routes:\n  s:\n    strategy: complexity\n    simple: {target: groq}\n    threshold: 1.5\n",
     "3:routes.s.complex: a complexity strategy needs a complex: branch"),
    ("routes:\n  f:\n    strategy: fallback\n    targets: []\n", "4:routes.f.targets: needs a non-empty list of targets"),
    ("routes:\n  f:\n    target: groq\n    weight: 1\n", "4:routes.f.weight: unknown field 'weight'"),
    ("routes:\n  p:\n    target: openai\n    override_params: {search_recency_filter: month}\n",
     "4:routes.p.override_params.search_recency_filter: search_recency_filter is a Perplexity option"),
    ("routes:\n  p:\n    target: perplexity\n    override_params: {search_recency_filter: decade}\n",
     "4:routes.p.override_params.search_recency_filter: must be one of hour, day, week, month, year"),
    ("routes:\n  p:\n    target: openai\n    override_params: {temperature: 5}\n",
     "4:routes.p.override_params: temperature must be between 0 and 2"),
    ("routes:\n  a:\n    target: groq\n  a:\n    target: openai\n", "4:routes.a: written twice in the same mapping"),
    ("roles:\n  artemis/Tester:\n    system_prompt: x\n", "2:roles.artemis/Tester: a role is written <domain>/<name>"),
    ("roles:\n  artemis/tester:\n    description: no prompt, no strategy\n",
     "2:roles.artemis/tester: a new role needs system_prompt and a strategy"),
    ("routes:\n  x: [1, 2\n", "not valid YAML"),
    ("version: 2\n", "1:version: unknown field 'version'"),
    ("roles: {}\nroles: {}\n", "2:roles: written twice in the same mapping"),
])
def test_each_problem_names_its_line_and_field(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    found = problems(tmp_path, "routes:\n  a:\n    target: nope\n  b:\n    strategy: fallback\n    targets: 3\n"
                               "  c:\n    target: groq\n    extra: 1\n")
    assert [p.split(":")[0] for p in found] == ["3", "6", "9"]


def test_a_bad_file_stops_the_start_naming_the_variable(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_policy(load_settings(_env_file=None, sophia_routing_file=str(write(tmp_path, "routes: {a: {}}"))))
    assert caught.value.env_vars == ("SOPHIA_ROUTING_FILE",) and "routes.a" in str(caught.value)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_policy(load_settings(_env_file=None, sophia_routing_file=str(tmp_path / "missing.yaml")))


def test_queries_are_normalised_for_the_gateways_evaluator(tmp_path):
    text = ("routes:\n  q:\n    strategy: conditional\n    conditions:\n"
            "      - query: {$or: [{metadata.tier: gold}], metadata.region: {$in: [1, eu]}}\n        then: {target: groq}\n"
            "      - query: {metadata.user: {$regex: '^vip', $ne: vip-0}}\n        then: {target: openai}\n"
            "      - query: {params.max_tokens: {$gt: 1000}, metadata.n: 5}\n        then: {target: mistral}\n")
    queries = [json.loads(q) for q in check_file(write(tmp_path, text)).route("q").strategy.root.queries]
    # $or would end the gateway's evaluation of its object: the other field goes into one $and
    assert queries[0] == {"$and": [{"$or": [{"metadata.tier": "gold"}]}, {"metadata.region": {"$in": ["1", "eu"]}}]}
    # $regex ends the evaluation of its operator object: split out
    assert queries[1] == {"$and": [{"metadata.user": {"$regex": "^vip"}}, {"metadata.user": {"$ne": "vip-0"}}]}
    # metadata is sent as strings (compared strictly), params keep their JSON types
    assert queries[2] == {"params.max_tokens": {"$gt": 1000}, "metadata.n": "5"}


def test_the_readmes_complete_example_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("### A complete example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    policy = check_file(write(tmp_path, block))
    assert set(policy.routes) == {"support_ab", "tiered", "smart", "resilient_ab", "news"}
    assert {"artemis/test_writer", "sophia/pricing_analyst"} <= set(policy.roles)
    assert policy.experiments() == {"support_ab": ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant"),
                                    "resilient_ab": ("fast", "careful")}


def test_grounding_is_a_role_field(tmp_path):
    path = write(tmp_path, "roles:\n  artemis/security_auditor:\n    grounded: true\n"
                           "  sophia/market_analyst:\n    grounded: false\n")
    policy = load_policy(load_settings(_env_file=None, sophia_routing_file=str(path)))
    assert policy.role("artemis/security_auditor").grounded and not policy.role("sophia/market_analyst").grounded
    assert policy.role("artemis/security_auditor").strategy.targets[0] == "anthropic/claude-sonnet-4-5"  # kept
    assert policy.role("sophia/customer_success").grounded  # the built-in file grounds Sophia's roles
    assert any("must be true or false" in p for p in problems(tmp_path, "roles:\n  artemis/x:\n    grounded: yes please\n"))
