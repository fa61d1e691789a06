"""``sophia alerts export``: the same rules as a Prometheus alerting-rules file over our exported metrics.

Each signal has its PromQL over the metric names the service exports (``sophia_requests_total``,
``sophia_provider_attempts_total``, ``sophia_request_latency_seconds_bucket``, ``sophia_circuit_state``,
``sophia_budget_used_ratio``, ``sophia_usage_anomaly_score``, ``sophia_store_down``,
``sophia_key_rotation_state``...), summed over every instance Prometheus scrapes. ``for`` and
``keep_firing_for`` (Prometheus 2.42+) carry over as they are; the clear level becomes the usual
hysteresis idiom: past the threshold, or past the clear level while the alert already fires
(``and on(...) ALERTS{alertstate="firing"}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from app.alerts.rules import AlertRule, prometheus_duration
from app.alerts.signals import Signal


@dataclass(frozen=True, slots=True)
class _Query:
    value: str
    """PromQL of the signal's value; ``{w}`` stands for the rule's window."""
    labels: tuple[str, ...]
    count: str | None = None
    """PromQL of the number of calls/attempts behind a rate, compared with ``min_requests``."""


QUERIES: dict[Signal, _Query] = {
    Signal.ERROR_RATE: _Query(
        "sum(rate(sophia_requests_total{outcome!~\"ok|StreamClosedError\"}[{w}])) / sum(rate(sophia_requests_total[{w}]))",
        (), "sum(increase(sophia_requests_total[{w}]))"),
    Signal.FALLBACK_RATE: _Query(
        "sum(rate(sophia_fallbacks_total[{w}])) / sum(rate(sophia_requests_total[{w}]))",
        (), "sum(increase(sophia_requests_total[{w}]))"),
    Signal.LATENCY_P95: _Query(
        "histogram_quantile(0.95, sum by (le, provider) (rate(sophia_request_latency_seconds_bucket[{w}])))",
        ("provider",), "sum by (provider) (increase(sophia_request_latency_seconds_count[{w}]))"),
    Signal.PROVIDER_FAILURE_RATE: _Query(
        'sum by (provider) (rate(sophia_provider_attempts_total{result="failed"}[{w}])) '
        "/ sum by (provider) (rate(sophia_provider_attempts_total[{w}]))",
        ("provider",), "sum by (provider) (increase(sophia_provider_attempts_total[{w}]))"),
    Signal.CIRCUIT_OPEN: _Query("max by (provider, model) (sophia_circuit_state)", ("provider", "model")),
    Signal.BUDGET_USED: _Query("max by (scope, subject, limit) (sophia_budget_used_ratio)",
                               ("scope", "subject", "limit")),
    Signal.USAGE_SPIKE: _Query("max by (dimension, subject, measure) (sophia_usage_anomaly_score)",
                               ("dimension", "subject", "measure")),
    Signal.USAGE_DROP: _Query("max by (dimension, subject, measure) (-sophia_usage_anomaly_score)",
                              ("dimension", "subject", "measure")),
    Signal.STORE_DOWN: _Query("max by (store) (sophia_store_down)", ("store",)),
    Signal.KEY_ROTATION: _Query("max by (variable) (sophia_key_rotation_state)", ("variable",)),
}

_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _summary(rule: AlertRule) -> str:
    labels = set(QUERIES[rule.signal].labels)

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return "{{ $value | humanize }}"
        if name == "threshold":
            return f"{rule.threshold:g}"
        if name == "window":
            return prometheus_duration(rule.window)
        if name in labels:
            return f"{{{{ $labels.{name} }}}}"
        return match.group(0)

    text = rule.summary or f"{rule.signal.value} is {{value}} (threshold {{threshold}})"
    return _PLACEHOLDER.sub(one, text)


def expression(rule: AlertRule) -> str:
    """The rule's PromQL: past the threshold, or past the clear level while firing; over enough traffic."""
    query = QUERIES[rule.signal]
    value = "(" + query.value.replace("{w}", prometheus_duration(rule.window)) + ")"
    op = ">=" if rule.above is not None else "<="
    on = f"on({', '.join(query.labels)})"
    expr = f"{value} {op} {rule.threshold:g}"
    if rule.clear is not None and rule.clear != rule.threshold:
        firing = f'ALERTS{{alertname="{rule.name}", alertstate="firing"}}'
        expr = f"{expr}\nor\n({value} {op} {rule.clear:g} and {on} {firing})"
    if query.count is not None:
        count = query.count.replace("{w}", prometheus_duration(rule.window))
        expr = f"({expr})\nand {on}\n{count} >= {rule.min_requests}"
    return expr


def prometheus_rules(rules: list[AlertRule], group: str = "sophia-routing") -> dict[str, Any]:
    """The alerting-rules document (one group) for ``rules``."""
    out = []
    for rule in rules:
        entry: dict[str, Any] = {"alert": rule.name, "expr": expression(rule)}
        if rule.for_:
            entry["for"] = prometheus_duration(rule.for_)
        if rule.keep_firing_for:
            entry["keep_firing_for"] = prometheus_duration(rule.keep_firing_for)
        entry["labels"] = {"severity": rule.severity, "service": "sophia-routing"}
        entry["annotations"] = {"summary": _summary(rule), "signal": rule.signal.value}
        out.append(entry)
    return {"groups": [{"name": group, "rules": out}]}


class _Literal(str):
    """A multi-line string dumped as a YAML block (readable expressions)."""


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def render(rules: list[AlertRule]) -> str:
    """The alerting-rules file as YAML text, with a header saying where it came from."""
    document = prometheus_rules(rules)
    for entry in document["groups"][0]["rules"]:
        if "\n" in entry["expr"]:
            entry["expr"] = _Literal(entry["expr"])
    header = ("# Prometheus alerting rules written by `sophia alerts export` from the Sophia routing layer's\n"
              "# alert rules (the built-in ones merged with SOPHIA_ALERTS_FILE). Check: promtool check rules FILE\n")
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)
