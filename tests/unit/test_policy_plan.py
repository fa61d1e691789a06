"""Planning a request on a policy: sticky variants, complexity, what the gateway then gets, and cache keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from app.core.manager import PortkeyManager
from app.core.prompt_cache import mark_prompt_cache
from app.core.routing import Router
from app.core.settings import load_settings
from app.core.strategy import Group
from app.routing import check_file, plan
from app.routing.sticky import sticky_choice, unit_interval
from tests.unit.test_routing_file import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
KEYS = {f"{p}_api_key": f"sk-test-{p}-0123456789abcdef" for p in ("openai", "anthropic", "groq", "deepseek")}
HELLO = [{"role": "user", "content": "Hello"}]


def policy(tmp_path, text=EXAMPLE):
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    return check_file(path)


def planned(pol, route, metadata=None, messages=HELLO, probability=0.0, threshold=0.5):
    return plan(pol.route(route).strategy, route, messages, metadata, {}, lambda _: probability, threshold)


def test_sticky_assignment_is_deterministic_and_honours_weights():
    weights = (0.8, 0.2)
    picks = Counter(sticky_choice("support_ab", f"user-{i}", weights) for i in range(20_000))
    assert abs(picks[0] / 20_000 - 0.8) < 0.01  # sha256 spreads keys uniformly
    assert [sticky_choice("support_ab", "u1", weights) for _ in range(5)] == [sticky_choice("support_ab", "u1", weights)] * 5
    assert sticky_choice("x", "u", (0.0, 1.0, 0.0)) == 1  # a variant of weight 0 never gets anyone
    salts = Counter((sticky_choice("a", f"u{i}", (1, 1)), sticky_choice("b", f"u{i}", (1, 1))) for i in range(4000))
    assert all(900 < n < 1100 for n in salts.values())  # two experiments split the same users independently


def test_sticky_assignment_is_the_same_in_another_process_whatever_its_hash_seed():
    keys = [f"user-{i}" for i in range(50)]
    here = [round(unit_interval("support_ab", k), 12) for k in keys]
    code = ("import json,sys; from app.routing.sticky import unit_interval; "
            f"print(json.dumps([round(unit_interval('support_ab', k), 12) for k in {keys!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)})
    assert json.loads(out.stdout) == here


def test_with_the_sticky_key_one_variant_is_sent_without_it_the_gateway_picks(tmp_path):
    pol = policy(tmp_path)
    with_key = planned(pol, "support_ab", {"user_id": "u1"}).requested
    variant = ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant")[sticky_choice("support_ab", "u1", (0.8, 0.2))]
    assert with_key.mode == "loadbalance" and with_key.names == (variant,) and with_key.weights == (1.0,)
    without = planned(pol, "support_ab").requested
    assert without.names == ("openai/gpt-4o-mini", "groq/llama-3.1-8b-instant") and without.weights == (0.8, 0.2)


def test_complexity_picks_a_branch_and_labels_the_request(tmp_path):
    pol = policy(tmp_path)
    simple = planned(pol, "smart", probability=0.2)
    assert simple.complexity == "simple" and simple.metadata == {"complexity": "simple"}
    assert [c.label for c in simple.requested.children] == ["groq/llama-3.1-8b-instant"]
    complex_ = planned(pol, "smart", probability=0.8)
    assert complex_.complexity == "complex"
    assert [c.label for c in complex_.requested.children] == ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]
    # the operator's bias: a higher threshold sends the same request to the simple branch
    assert planned(pol, "smart", probability=0.6, threshold=0.7).complexity == "simple"
    # a caller who knows better says so in the metadata
    assert planned(pol, "smart", {"complexity": "complex"}, probability=0.0).complexity == "complex"
    assert planned(pol, "tiered").complexity is None  # nothing reads it: the classifier does not run


def test_a_rule_on_the_label_makes_the_classifier_run(tmp_path):
    text = ("routes:\n  r:\n    strategy: conditional\n    conditions:\n"
            "      - query: {metadata.complexity: {$eq: complex}}\n        then: {target: openai}\n"
            "    default: {target: groq}\n")
    assert planned(policy(tmp_path, text), "r", probability=0.9).metadata == {"complexity": "complex"}


def test_a_nested_threshold_sets_the_label(tmp_path):
    text = ("routes:\n  r:\n    strategy: complexity\n    threshold: 0.9\n"
            "    simple: {target: groq}\n    complex: {target: openai}\n")
    assert planned(policy(tmp_path, text), "r", probability=0.8).complexity == "simple"


def test_enable_fallback_off_keeps_each_fallbacks_first_target(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(EXAMPLE)
    manager = PortkeyManager(load_settings(_env_file=None, enable_fallback=False, sophia_routing_file=str(path),
                                           **KEYS))
    chain, _ = manager._chain_for(None, None, None, None, "artemis/test_writer", HELLO, None, {})
    assert [t.label for t in chain.targets] == ["openai/gpt-4o"]


def test_cache_identity_separates_what_changes_the_answer(tmp_path):
    pol = policy(tmp_path)
    router = Router(load_settings(_env_file=None, **KEYS))
    tiered = router.build_tree(planned(pol, "tiered").requested)
    premium, free = tiered.cache_identity({"tier": "premium"}), tiered.cache_identity({"tier": "free"})
    assert premium != free  # the rule reads the tier: a cached answer of one branch must not serve the other
    assert tiered.cache_identity({"tier": "free", "user_id": "x"}) == free  # what no rule reads does not count
    u1 = router.build_tree(planned(pol, "support_ab", {"user_id": "u1"}).requested).cache_identity({})
    plain = router.build(router.requested("openai", None, ["anthropic"]))
    assert plain.cache_identity({}) == [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5")]  # as before
    assert u1[-1][0] == "strategy"


def test_prompt_caching_marks_long_system_prompts_only_for_chains_that_understand_it():
    router = Router(load_settings(_env_file=None, **KEYS))
    long_system = {"role": "system", "content": "policy " * 1200}
    messages = [long_system, {"role": "user", "content": "hi"}]
    anthropic_only = router.build(router.requested("anthropic", None, []))
    marked = mark_prompt_cache(anthropic_only, messages)
    assert marked[0]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in marked[1]
    assert "cache_control" not in messages[0]  # the caller's messages are left alone
    mixed = router.build(router.requested("anthropic", None, ["openai"]))
    assert mark_prompt_cache(mixed, messages) == messages  # OpenAI would reject the marker
    short = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert mark_prompt_cache(anthropic_only, short) == short  # under the provider's minimum: not worth marking


def test_results_name_the_variant_and_fallback_from_the_served_path(tmp_path):
    router = Router(load_settings(_env_file=None, **KEYS))
    chain = router.build_tree(Group("fallback", (router.requested("anthropic", None, [])[0],
                                                  planned(policy(tmp_path), "support_ab").requested)))
    served = chain.index_at("config.targets[1].targets[1]")
    assert chain.targets[served].label == "groq/llama-3.1-8b-instant"
    assert chain.variant(served) == "groq/llama-3.1-8b-instant" and chain.fallback_used(served)
