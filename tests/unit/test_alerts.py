"""Alert rules, the evaluator's state machine, the traffic window and usage anomalies (no network)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.alerts import AlertEvaluator, AlertHistory, Notifier, Sample, Signal, TrafficWindow, UsageAnomalies
from app.alerts.prometheus import expression, render
from app.alerts.rules import AlertRule, default_rules, load_rules
from app.alerts.signals import histogram_quantile
from app.core.errors import ConfigurationError, ProviderServerError
from app.core.observation import CallRecord
from app.core.results import Attempt, RoutingInfo, Usage
from tests.support import IN_CI


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A source whose next value the test sets (a test double of a source, not of the evaluator)."""

    signals = frozenset({Signal.ERROR_RATE})

    def __init__(self) -> None:
        self.value: float | None = None

    async def samples(self, signal, rule, now):
        return [] if self.value is None else [Sample.of(self.value)]


def ok_call(provider="openai", latency_ms=100.0, fallback=False, tokens=10, metadata=None, failed_first=False):
    attempts = [Attempt(provider=provider, model="m", status=200)]
    if failed_first:
        attempts.insert(0, Attempt(provider="groq", model="m", status=503))
    routing = RoutingInfo(provider=provider, model="gpt-4o", fallback_used=fallback, attempts=attempts,
                          latency_ms=latency_ms, usage=Usage(prompt_tokens=tokens, completion_tokens=tokens),
                          trace_id="t")
    return CallRecord("chat", "t", (f"{provider}/gpt-4o",), latency_ms, routing=routing, metadata=metadata or {})


def failed_call(provider="openai"):
    error = ProviderServerError("down", status=503, provider=provider)
    return CallRecord("chat", "t", (f"{provider}/gpt-4o",), 5.0, error=error)


def evaluator(rules, sources, clock):
    return AlertEvaluator(rules, sources, Notifier(AlertHistory()), instance="test", clock=clock)


# ----- rules ------------------------------------------------------------------------------------------


def test_the_built_in_rules_cover_every_signal_the_issue_names():
    signals = {r.signal for r in default_rules()}
    assert signals == set(Signal)
    budget = sorted(r.threshold for r in default_rules() if r.signal is Signal.BUDGET_USED)
    assert budget == [0.8, 1.0]


def test_a_rules_file_merges_by_name_and_drops_disabled_rules(tmp_path: Path):
    file = tmp_path / "alerts.yaml"
    file.write_text("alerts:\n"
                    "  - {name: HighErrorRate, signal: error_rate, above: 0.5, clear: 0.25, for: 30s}\n"
                    "  - {name: UsageDrop, signal: usage_drop, above: 4, enabled: false}\n"
                    "  - {name: SlowGroq, signal: latency_p95, above: 2, window: 1m, min_requests: 5}\n")
    rules = {r.name: r for r in load_rules(file)}
    assert rules["HighErrorRate"].threshold == 0.5 and rules["HighErrorRate"].for_ == 30
    assert "UsageDrop" not in rules and rules["SlowGroq"].window == 60
    assert len(rules) == len(default_rules()) + 1 - 1


@pytest.mark.parametrize("text, problem", [
    ("alerts: [{name: X, signal: nope, above: 1}]", "signal"),
    ("alerts: [{name: X, signal: error_rate}]", "exactly one of above: or below:"),
    ("alerts: [{name: X, signal: error_rate, above: 0.2, clear: 0.3}]", "healthy side"),
    ("alerts: [{name: X, signal: error_rate, above: 0.2, for: soon}]", "duration"),
    ("rules: []", "top-level `alerts:`"),
])
def test_a_bad_rules_file_is_a_configuration_error_naming_the_rule(tmp_path: Path, text: str, problem: str):
    file = tmp_path / "alerts.yaml"
    file.write_text(text)
    with pytest.raises(ConfigurationError, match=r"alerts\.yaml") as info:
        load_rules(file)
    assert problem in str(info.value)


# ----- the state machine ------------------------------------------------------------------------------


async def test_an_alert_fires_once_and_resolves_once_with_hysteresis():
    clock = Clock()
    rule = AlertRule(name="Errors", signal=Signal.ERROR_RATE, above=0.5, clear=0.2, **{"for": 10},
                     keep_firing_for=5, summary="{value:.0%} failed")
    source = Scripted()
    ev = evaluator([rule], [source], clock)
    sent = []
    # Past the threshold, but not for 10 s yet; a dip into the band does not reset pending.
    for value in (0.6, 0.4, 0.55, 0.7):
        source.value = value
        sent += await ev.evaluate(clock.now)
        clock.now += 3
    source.value = 0.6
    sent += await ev.evaluate(clock.now)  # 12 s after it first breached: fires
    assert [(e.status, e.summary) for e in sent] == [("firing", "60% failed")]
    # Hovering around the threshold, and in the band above the clear level: no new notification.
    for value in (0.45, 0.55, 0.3, 0.21, 0.6, 0.25):
        clock.now += 2
        source.value = value
        assert await ev.evaluate(clock.now) == []
    # Clear, but for less than keep_firing_for, then back: still firing, nothing sent.
    source.value = 0.1
    clock.now += 2
    assert await ev.evaluate(clock.now) == []
    source.value = 0.3
    clock.now += 2
    assert await ev.evaluate(clock.now) == []
    # Clear for 5 s: resolves, once.
    source.value = 0.1
    resolved = []
    for _ in range(5):
        clock.now += 2
        resolved += await ev.evaluate(clock.now)
    assert [e.status for e in resolved] == ["resolved"]
    assert resolved[0].starts_at < resolved[0].ends_at
    history = await ev.notifier.history.recent()
    assert [e["status"] for e in history] == ["resolved", "firing"] and AlertHistory.active(history) == []


async def test_a_pending_alert_that_clears_is_dropped_silently_and_missing_samples_count_as_clear():
    clock = Clock()
    rule = AlertRule(name="Errors", signal=Signal.ERROR_RATE, above=0.5, clear=0.2, **{"for": 10})
    source = Scripted()
    ev = evaluator([rule], [source], clock)
    source.value = 0.9
    assert await ev.evaluate(clock.now) == []
    source.value = None  # traffic stopped: no sample
    clock.now += 20
    assert await ev.evaluate(clock.now) == [] and ev.firing() == []
    # A firing alert whose samples stop resolves.
    rule0 = AlertRule(name="Now", signal=Signal.ERROR_RATE, above=0.5, **{"for": 0})
    ev = evaluator([rule0], [source], clock)
    source.value = 0.9
    assert [e.status for e in await ev.evaluate(clock.now)] == ["firing"]
    source.value = None
    assert [e.status for e in await ev.evaluate(clock.now + 1)] == ["resolved"]


# ----- the traffic window -----------------------------------------------------------------------------


async def test_the_traffic_window_gives_rates_failures_and_p95_per_provider():
    clock = Clock()
    window = TrafficWindow(clock=clock)
    for i in range(20):
        window(ok_call(latency_ms=40.0 if i < 18 else 3000.0, fallback=i < 5, failed_first=i < 5))
    for _ in range(5):
        window(failed_call())
    window(CallRecord("chat", "t", ("openai/gpt-4o",), 1.0, metadata={"purpose": "health"},
                      error=ProviderServerError("x", status=500, provider="openai")))
    rule = AlertRule(name="R", signal=Signal.ERROR_RATE, above=0.1, window=60, min_requests=10)
    assert (await window.samples(Signal.ERROR_RATE, rule, clock.now))[0].value == pytest.approx(5 / 25)
    assert (await window.samples(Signal.FALLBACK_RATE, rule, clock.now))[0].value == pytest.approx(5 / 25)
    failures = {s.labels: s.value for s in await window.samples(Signal.PROVIDER_FAILURE_RATE, rule, clock.now)}
    assert failures == {(("provider", "openai"),): 0.0}  # groq had 5 attempts < min_requests 10
    p95 = (await window.samples(Signal.LATENCY_P95, rule, clock.now))[0]
    assert p95.labels == (("provider", "openai"),) and 2.5 < p95.value <= 5  # 2 slow calls of 20 -> top 10%
    # The window slides: a minute later nothing is left to judge.
    assert await window.samples(Signal.ERROR_RATE, rule, clock.now + 61) == []


def test_histogram_quantile_reads_buckets_like_prometheus():
    counts = [0] * 15
    counts[4] = 100  # all in (0.05, 0.1]
    assert histogram_quantile(0.5, counts) == pytest.approx(0.075)
    assert histogram_quantile(0.95, [0] * 15) is None


# ----- usage anomalies (replayed traffic, deterministic clock) -----------------------------------------


async def test_replayed_traffic_with_a_spike_and_a_drop_fires_and_resolves_once_each():
    clock = Clock(600_000.0)
    anomalies = UsageAnomalies(interval=60, alpha=0.3, warmup=5, clock=clock)
    rules = [r for r in default_rules() if r.signal in (Signal.USAGE_SPIKE, Signal.USAGE_DROP)]
    ev = evaluator(rules, [anomalies], clock)
    events = []
    per_minute = [100, 104, 97, 101, 99, 103, 98, 102, 100, 96,  # warm-up and baseline
                  420,                                          # the spike
                  101, 99, 100, 103, 97, 100,                   # back to normal
                  0, 0]                                         # traffic stops
    meta = {"domain": "sophia", "role": "market_analyst", "api_token": "token:abc"}
    for minute, count in enumerate(per_minute):
        start = 600_000.0 + minute * 60
        for i in range(count):
            clock.now = start + 60 * i / max(count, 1)
            anomalies(ok_call(metadata=meta))
        clock.now = start + 60
        events += await ev.evaluate(clock.now)
    spikes = [(e.alertname, e.status, e.labels["dimension"], e.labels["measure"]) for e in events
              if e.alertname == "UsageSpike"]
    # Requests and tokens spiked for the provider, the role and the token; each fires once and resolves once.
    for dimension in ("provider", "role", "api_token"):
        for measure in ("requests", "tokens"):
            assert [s[1] for s in spikes if s[2] == dimension and s[3] == measure] == ["firing", "resolved"]
    drops = [e for e in events if e.alertname == "UsageDrop" and e.status == "firing"]
    assert {(e.labels["dimension"], e.labels["measure"]) for e in drops} >= {("provider", "requests"),
                                                                           ("role", "requests")}
    assert not [e for e in events if e.alertname == "UsageDrop" and e.at < 600_000 + 17 * 60]
    recent = anomalies.snapshot()["recent"]
    assert recent[0]["direction"] == "drop" and any(a["direction"] == "spike" for a in recent)


def test_anomalies_name_their_subjects_as_the_limits_and_budgets_do():
    from app.alerts.anomalies import subjects
    from app.core.settings import CallerLimits
    from app.resilience.limits import CallLimits, token_digest

    meta = {"domain": "sophia", "role": "MARKET_ANALYST", "api_token": "a-raw-token-from-python"}
    named = dict(subjects(ok_call(metadata=meta)))
    assert named == {"provider": "openai", "role": "sophia/market_analyst",
                     "api_token": token_digest("a-raw-token-from-python")}
    limits = CallLimits({"*": CallerLimits(usd_per_day=1)}, {}, {"*": CallerLimits(usd_per_day=1)})
    assert {scope.subject for scope in limits.scopes(meta)} == {named["role"], named["api_token"]}


async def test_no_anomaly_during_warm_up_or_on_steady_noise():
    clock = Clock(0.0)
    anomalies = UsageAnomalies(interval=10, alpha=0.3, warmup=5, clock=clock)
    for minute, count in enumerate([5, 300, 7, 6, 5, 6, 7, 5, 6, 6, 5, 7]):  # the 300 is inside the warm-up
        for i in range(count):
            clock.now = minute * 10 + 10 * i / count
            anomalies(ok_call())
    clock.now = 130
    rule = AlertRule(name="S", signal=Signal.USAGE_SPIKE, above=4)
    samples = await anomalies.samples(Signal.USAGE_SPIKE, rule, clock.now)
    assert samples and all(s.value < 4 for s in samples)


# ----- the Prometheus export --------------------------------------------------------------------------


def test_the_export_keeps_thresholds_durations_and_hysteresis():
    rule = AlertRule(name="HighErrorRate", signal=Signal.ERROR_RATE, above=0.05, clear=0.02, window="5m",
                     **{"for": "2m"}, keep_firing_for="1m", min_requests=20)
    expr = expression(rule)
    assert "sophia_requests_total" in expr and ">= 0.05" in expr and ">= 0.02" in expr
    assert 'ALERTS{alertname="HighErrorRate", alertstate="firing"}' in expr and ">= 20" in expr
    text = render([rule])
    assert "for: 2m" in text and "keep_firing_for: 1m" in text and "severity: warning" in text


def test_promtool_accepts_the_exported_rules(tmp_path: Path):
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool missing: apt-get install -y prometheus (Debian ships it); .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    file = tmp_path / "rules.yml"
    file.write_text(render(load_rules()))
    done = subprocess.run([promtool, "check", "rules", str(file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in done.stdout
