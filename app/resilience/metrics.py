"""Metrics of the circuit breakers and the limits (default registry, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

CIRCUIT_STATE = Gauge("sophia_circuit_state", "Circuit of a target as this instance last saw it: "
                      "0 closed, 1 half-open (one probe allowed), 2 open (tried last)", ["provider", "model"])
CIRCUIT_TRANSITIONS = Counter("sophia_circuit_transitions", "Circuit state changes this instance made",
                              ["provider", "model", "to"])
LIMITED = Counter("sophia_limited", "Calls refused by a limit or a budget", ["scope", "kind"])


def _split(label: str) -> tuple[str, str]:
    provider, _, model = label.partition("/")
    return provider, model


def state(label: str, value: str) -> None:
    """Record the state (``closed``, ``half_open``, ``open``) of ``label``'s circuit (``provider/model``)."""
    CIRCUIT_STATE.labels(*_split(label)).set(_STATE_VALUE[value])


def transition(label: str, to: str) -> None:
    """Count a state change of ``label``'s circuit, and record the new state."""
    CIRCUIT_TRANSITIONS.labels(*_split(label), to).inc()
    state(label, to)
