"""Prometheus metrics of the routing layer, fed from the manager's call observations.

    from app.telemetry import TelemetryObserver
    manager.observers.add(TelemetryObserver())

Cache and vector-store metrics are defined next to their code (app/cache, app/memory); every
metric lives on prometheus_client's default registry, which the service exposes at ``/metrics``.
"""

from app.telemetry.observer import TelemetryObserver, record_health

__all__ = ["TelemetryObserver", "record_health"]
