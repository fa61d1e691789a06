"""Gauges the alert sources set, so that Prometheus sees what the in-service rules see
(``sophia alerts export`` writes rules over these and the traffic metrics of ``app.telemetry``)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

ANOMALY_SCORE = Gauge("sophia_usage_anomaly_score", "Last closed interval's deviation from its EWMA baseline, "
                      "in band units (positive: spike, negative: drop)", ["dimension", "subject", "measure"])
BUDGET_USED = Gauge("sophia_budget_used_ratio", "Share of a budget spent in its period (1 = spent)",
                    ["scope", "subject", "limit"])
STORE_DOWN = Gauge("sophia_store_down", "1 when a configured store failed its last check", ["store"])
KEY_ROTATION = Gauge("sophia_key_rotation_state", "0 within policy, 1 due within KEY_WARN_DAYS, 2 overdue",
                     ["variable"])
KEY_AGE = Gauge("sophia_key_age_days", "Days since the key was first seen or last rotated", ["variable"])
ALERTS_FIRING = Gauge("sophia_alerts_firing", "Alerts this instance sees firing", ["alertname", "severity"])
NOTIFICATIONS = Counter("sophia_alert_notifications", "Alert notifications by sink and result",
                        ["sink", "result"])


def anomaly(dimension: str, subject: str, measure: str, score: float) -> None:
    """Export one scored interval."""
    ANOMALY_SCORE.labels(dimension, subject, measure).set(score)


def forget_anomaly(dimension: str, subject: str, measure: str) -> None:
    """Drop the series of a baseline that was forgotten."""
    with contextlib.suppress(KeyError):
        ANOMALY_SCORE.remove(dimension, subject, measure)
