"""Alerts: rules as data, evaluated in the service from the calls it observes, delivered once.

    rules = load_rules(settings.sophia_alerts_file)        # built-in defaults, merged with your file
    evaluator = AlertEvaluator(rules, sources, ledger, notifier)
    await evaluator.evaluate(now)                          # the lifespan runs this in a loop

Each rule watches one signal (``app.alerts.signals``: error rate, fallback rate, p95 latency,
provider failures, open circuits, budgets, usage anomalies, stores, key ages) with a threshold, a
for-duration and a clear level (hysteresis), so an alert fires once and resolves once. With Redis the
instances of a deployment agree on what is firing (``app.alerts.ledger``), so a condition seen by
several notifies once. Notifications go to the log, the dashboard's history and webhooks (generic
JSON or Slack-compatible, retried, then dead-lettered). ``sophia alerts export`` writes the same rules
as Prometheus alerting rules over the exported metrics (``app.alerts.prometheus``).
"""

from app.alerts.anomalies import UsageAnomalies
from app.alerts.delivery import AlertEvent, Notifier, WebhookSink
from app.alerts.evaluator import AlertEvaluator
from app.alerts.history import AlertHistory
from app.alerts.ledger import MemoryLedger, RedisLedger
from app.alerts.rules import AlertRule, load_rules
from app.alerts.signals import Sample, Signal, TrafficWindow

__all__ = [
    "AlertEvaluator",
    "AlertEvent",
    "AlertHistory",
    "AlertRule",
    "MemoryLedger",
    "Notifier",
    "RedisLedger",
    "Sample",
    "Signal",
    "TrafficWindow",
    "UsageAnomalies",
    "WebhookSink",
    "load_rules",
]
