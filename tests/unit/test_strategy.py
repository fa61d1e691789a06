"""Strategy trees: paths as the gateway reports them, what remains after a failure, the compiled config."""

import json
import secrets

from app.core.routing import Router, TargetSpec
from app.core.settings import load_settings
from app.core.strategy import (
    Condition,
    Group,
    leaf_at,
    leaves,
    map_leaves,
    numbered,
    reached_by_fallback,
    remaining_after,
    to_portkey,
    tried_before,
    variant_of,
)

# fallback[ 0, loadbalance[ fallback[1, 2] "a", 3 "b" ], 4 ]
TREE = Group("fallback", (
    0,
    Group("loadbalance", (Group("fallback", (1, 2)), 3), names=("a", "b"), weights=(0.7, 0.3)),
    4,
))


def test_gateway_paths_lead_to_leaves():
    assert leaf_at(TREE, "config.targets[0]") == 0
    assert leaf_at(TREE, "config.targets[1].targets[0].targets[1]") == 2
    assert leaf_at(TREE, "config.targets[1].targets[1]") == 3
    assert leaf_at(TREE, "config.targets[1]") is None  # a group, not a target
    assert leaf_at(TREE, "config.targets[9]") is None and leaf_at(TREE, "") is None


def test_fallback_and_variant_are_read_from_the_way_to_a_leaf():
    assert [reached_by_fallback(TREE, i) for i in range(5)] == [False, True, True, True, True]
    assert [variant_of(TREE, i) for i in range(5)] == [None, "a", "a", "b", None]
    lb = Group("loadbalance", (0, 1), names=("x", "y"), weights=(1, 1))
    assert not reached_by_fallback(lb, 1)  # the second variant is a choice, not a fallback


def test_remaining_after_a_failure_is_the_rest_of_each_fallback_on_the_way():
    rest = remaining_after(TREE, 1)  # inside variant "a": its own fallback goes on, then the outer one
    assert rest == Group("fallback", (Group("fallback", (2,)), 4))
    assert remaining_after(TREE, 3) == Group("fallback", (4,))  # variant "b" had nothing after it
    assert remaining_after(TREE, 4) is None
    lb_only = Group("loadbalance", (0, 1), names=("x", "y"), weights=(1, 1))
    assert remaining_after(lb_only, 0) is None  # a loadbalance never tries its other variant


def test_hosted_attempts_before_a_leaf_are_inferred_from_the_tree():
    assert tried_before(TREE, 4) == [0, 1, 2]  # the loadbalance's first variant is assumed
    assert tried_before(TREE, 2) == [0, 1]


def test_dropping_leaves_keeps_the_structure_consistent():
    cond = Group("conditional", (0, 1, 2), names=("p", "q", "d"),
                 conditions=(Condition('{"metadata.t":"p"}', 0), Condition('{"metadata.t":"q"}', 1)), default=2)
    pruned = map_leaves(cond, lambda leaf: None if leaf == 0 else leaf)
    assert pruned == Group("conditional", (1, 2), names=("q", "d"), conditions=(Condition('{"metadata.t":"q"}', 0),),
                           default=1)
    assert map_leaves(cond, lambda leaf: None if leaf == 2 else leaf).default is None
    lb = map_leaves(TREE, lambda leaf: None if leaf == 3 else leaf).children[1]
    assert lb.weights == (0.7,) and lb.names == ("a",)
    assert map_leaves(TREE, lambda leaf: None) is None
    tree, found = numbered(Group("fallback", ("x", Group("loadbalance", ("y", "z"), names=("y", "z"), weights=(1, 1)))))
    assert found == ["x", "y", "z"] and leaves(tree) == [0, 1, 2]


def test_compiled_config_uses_portkeys_vocabulary():
    cond = Group("conditional", (0, Group("fallback", (1, 2), on_status_codes=(429, 503))), names=("premium", "rest"),
                 conditions=(Condition('{"metadata.tier":{"$eq":"premium"}}', 0),), default=1)
    config = to_portkey(Group("loadbalance", (cond, 3), names=("v1", "v2"), weights=(0.8, 0.2)),
                        lambda i: {"target": i})
    assert config == {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            {"strategy": {"mode": "conditional",
                          "conditions": [{"query": {"metadata.tier": {"$eq": "premium"}}, "then": "premium"}],
                          "default": "rest"},
             "targets": [{"target": 0, "name": "premium"},
                         {"strategy": {"mode": "fallback", "on_status_codes": [429, 503]},
                          "targets": [{"target": 1}, {"target": 2}], "name": "rest"}],
             "weight": 0.8},
            {"target": 3, "weight": 0.2},
        ],
    }


def _router(**keys):
    return Router(load_settings(_env_file=None, **keys))


def test_a_tree_chain_leaves_out_unconfigured_providers_and_maps_positions():
    router = _router(openai_api_key="sk-abc123def456ghi789", groq_api_key="gsk_0123456789abcdef0123")
    spec = Group("fallback", (
        TargetSpec.parse("anthropic"),  # no key: left out
        Group("loadbalance", (TargetSpec.parse("openai/gpt-4o-mini"), TargetSpec.parse("groq/llama-3.1-8b-instant")),
              names=("a", "b"), weights=(0.5, 0.5)),
        TargetSpec.parse("openai/gpt-4o"),
    ))
    chain = router.build_tree(spec)
    assert [t.label for t in chain.targets] == ["openai/gpt-4o-mini", "groq/llama-3.1-8b-instant", "openai/gpt-4o"]
    assert chain.skipped[0][0] == "anthropic"
    assert chain.index_at("config.targets[0].targets[1]") == 1
    assert chain.variant(1) == "b" and not chain.fallback_used(1) and chain.fallback_used(2)
    rest = chain.after(0)  # variant "a" failed: the outer fallback goes on with gpt-4o
    assert [t.label for t in rest.targets] == ["openai/gpt-4o"] and rest.position(0) == 2
    config = json.loads(router.portkey_config(chain, {"messages": []}))
    assert config["targets"][0]["strategy"]["mode"] == "loadbalance"
    assert [t["weight"] for t in config["targets"][0]["targets"]] == [0.5, 0.5]


def test_target_params_never_override_the_callers():
    router = _router(perplexity_api_key=f"pplx-{secrets.token_hex(15)}")
    spec = TargetSpec(TargetSpec.parse("perplexity").provider, "sonar-pro", '{"search_recency_filter":"month"}')
    chain = router.build_tree(Group("fallback", (spec,)))
    own = json.loads(router.portkey_config(chain, {"messages": []}))["targets"][0]["override_params"]
    assert own == {"model": "sonar-pro", "search_recency_filter": "month"}
    theirs = json.loads(router.portkey_config(chain, {"search_recency_filter": "day"}))["targets"][0]["override_params"]
    assert theirs == {"model": "sonar-pro"}


def test_a_plain_chain_compiles_exactly_as_before():
    router = _router(openai_api_key="sk-abc123def456ghi789", anthropic_api_key="sk-ant-abc123def456")
    chain = router.build(router.requested("openai", None, ["anthropic"]))
    config = json.loads(router.portkey_config(chain, {"messages": []}))
    assert config["strategy"] == {"mode": "fallback"}
    assert [t["override_params"] for t in config["targets"]] == [
        {"model": "gpt-4o"}, {"model": "claude-sonnet-4-5", "max_tokens": 4096}]
    assert chain.after(0).position(0) == 1 and chain.fallback_used(1) and chain.variant(1) is None


def test_open_circuits_go_last_within_each_fallback_and_leave_a_loadbalance():
    router = _router(openai_api_key="sk-abc123def456ghi789", groq_api_key="gsk_0123456789abcdef0123",
                     anthropic_api_key="sk-ant-abc123def456")
    spec = Group("fallback", (
        TargetSpec.parse("anthropic"),
        Group("loadbalance", (TargetSpec.parse("openai/gpt-4o-mini"), TargetSpec.parse("groq/llama-3.1-8b-instant")),
              names=("a", "b"), weights=(0.5, 0.5)),
    ))
    chain = router.build_tree(spec)
    deferred = chain.deferring(frozenset({"anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini"}))
    assert [t.label for t in deferred.targets] == ["groq/llama-3.1-8b-instant", "anthropic/claude-sonnet-4-5"]
    assert [deferred.position(i) for i in range(2)] == [2, 0]  # each keeps its number in the call's chain
    assert deferred.strategy.children[0].names == ("b",)  # the open variant left the loadbalance
    everything = chain.deferring(frozenset(t.label for t in chain.targets))
    assert len(everything.targets) == 3  # never away: all open, all tried
    plain = router.build(router.requested("openai", None, ["anthropic", "groq"]))
    moved = plain.deferring(frozenset({"openai/gpt-4o"}))
    assert [t.provider.name for t in moved.targets] == ["anthropic", "groq", "openai"]
    assert moved.position(2) == 0 and plain.deferring(frozenset()) is plain
