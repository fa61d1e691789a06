"""Metrics fed from call records: requests, latency histograms, fallbacks, availability, tokens, cost."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.core.errors import AllProvidersFailedError
from app.core.observation import CallRecord
from app.core.results import Attempt, RoutingInfo, Usage
from app.telemetry import TelemetryObserver, record_health


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_fallback_call_updates_every_metric():
    labels = {"provider": "anthropic", "model": "claude-sonnet-4-5"}
    before = {n: _value(n, **labels) for n in ("sophia_cost_usd_total",)}
    before_hist = _value("sophia_request_latency_seconds_count", kind="chat", source="provider", **labels)
    before_fb = _value("sophia_fallbacks_total", requested="openai", served="anthropic")
    before_tokens = _value("sophia_tokens_total", direction="prompt", **labels)
    routing = RoutingInfo(provider="anthropic", model="claude-sonnet-4-5", fallback_used=True, latency_ms=40,
                          attempts=[Attempt(provider="openai", model="gpt-4o", status=503),
                                    Attempt(provider="anthropic", model="claude-sonnet-4-5", status=200)],
                          usage=Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120), trace_id="t")
    TelemetryObserver()(CallRecord(kind="chat", trace_id="t", chain=("openai/gpt-4o", "anthropic/claude-sonnet-4-5"),
                                   latency_ms=40, routing=routing))
    assert _value("sophia_request_latency_seconds_count", kind="chat", source="provider", **labels) == before_hist + 1
    assert _value("sophia_fallbacks_total", requested="openai", served="anthropic") == before_fb + 1
    assert _value("sophia_tokens_total", direction="prompt", **labels) == before_tokens + 100
    assert _value("sophia_cost_usd_total", **labels) > before["sophia_cost_usd_total"]
    assert _value("sophia_provider_up", provider="openai") == 0
    assert _value("sophia_provider_up", provider="anthropic") == 1


def test_failures_count_by_error_class_and_health_sets_availability():
    error = AllProvidersFailedError([Attempt(provider="groq", model="m", status=500)], status=500, trace_id="t")
    before = _value("sophia_requests_total", kind="chat", provider="groq", model="m",
                    outcome="AllProvidersFailedError", source="provider")
    TelemetryObserver()(CallRecord(kind="chat", trace_id="t", chain=("groq/m",), latency_ms=3, error=error))
    assert _value("sophia_requests_total", kind="chat", provider="groq", model="m",
                  outcome="AllProvidersFailedError", source="provider") == before + 1
    record_health({"portkey_providers": {"groq": True, "mistral": False}})
    assert _value("sophia_provider_up", provider="groq") == 1
    assert _value("sophia_provider_up", provider="mistral") == 0
