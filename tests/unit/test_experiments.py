"""Experiment reports: per-variant numbers and the significance tests between variants."""

from __future__ import annotations

import random

from app.analytics.experiments import compare, holm


def rows(variant: str, n: int, latency: float, cost: float, score: float | None, errors: int = 0,
         seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        failed = i < errors
        out.append({"variant": variant, "error_class": "ProviderServerError" if failed else None,
                    "fallback_used": i % 10 == 0 and not failed, "cache_status": None,
                    "latency_ms": rng.gauss(latency, latency / 10), "prompt_tokens": 10, "completion_tokens": 20,
                    "cost_usd": None if failed else cost * rng.uniform(0.9, 1.1), "trace_id": f"{variant}{i}",
                    "score": None if score is None else min(1.0, max(0.0, rng.gauss(score, 0.1)))})
    return out


def test_a_real_difference_is_significant_and_says_which_test():
    report = compare("ab", rows("a", 200, 100, 0.001, 0.8) + rows("b", 200, 300, 0.0002, 0.6, seed=2), ["a", "b"])
    assert report.control == "a" and [v.variant for v in report.variants] == ["a", "b"]
    by_metric = {c.metric: c for c in report.comparisons}
    assert by_metric["latency"].significant and by_metric["latency"].test == "Mann-Whitney U"
    assert by_metric["cost"].significant and by_metric["cost"].test == "Welch's t" and by_metric["cost"].difference < 0
    assert by_metric["score"].significant and by_metric["score"].difference < 0
    a = report.variants[0]
    assert a.requests == 200 and a.success_rate == 1.0 and 0.09 < a.fallback_rate < 0.11
    assert 90 < a.p50_ms < 110 and a.p95_ms > a.p50_ms and a.tokens_per_call == 30
    assert a.score.low < a.score.mean < a.score.high and a.feedback == 200


def test_the_same_distribution_is_not_significant():
    report = compare("ab", rows("a", 150, 100, 0.001, 0.7, seed=3) + rows("b", 150, 100, 0.001, 0.7, seed=4))
    assert not any(c.significant for c in report.comparisons)


def test_too_little_data_is_said_not_guessed():
    report = compare("ab", rows("a", 1, 100, 0.001, None) + rows("b", 30, 100, 0.001, None), ["a", "b"])
    score = next(c for c in report.comparisons if c.metric == "score")
    assert score.p_value is None and not score.significant and report.variants[1].score is None


def test_failures_and_cache_hits_count_where_they_belong():
    data = rows("a", 100, 100, 0.001, None, errors=30) + rows("b", 100, 100, 0.001, None)
    for row in data[100:150]:
        row["cache_status"] = "hit"
    report = compare("ab", data, ["a", "b"])
    a, b = report.variants
    assert a.success_rate == 0.7 and b.cache_hits == 50
    success = next(c for c in report.comparisons if c.metric == "success")
    assert success.significant and success.test == "Fisher's exact" and round(success.difference, 2) == 0.3


def test_holm_adjusts_for_several_variants():
    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]
