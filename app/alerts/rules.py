"""Alert rules as data: the built-in ``default_rules.yaml``, merged by name with ``SOPHIA_ALERTS_FILE``.

    alerts:
      - name: HighErrorRate
        signal: error_rate            # one of app.alerts.signals.Signal
        above: 0.2                    # fires when the value is >= 0.2 (or `below:` for <=)
        clear: 0.1                    # resolves only once it is < 0.1 again (hysteresis)
        window: 5m                    # what rates and percentiles cover
        for: 1m                       # the condition must hold this long before it fires
        keep_firing_for: 2m           # and be clear this long before it resolves
        min_requests: 20              # rates over fewer calls are not judged
        severity: warning
        summary: "{value:.0%} of calls failed over {window}"

A rule of the user's file with a built-in rule's name replaces it; ``enabled: false`` drops it.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.alerts.signals import Signal
from app.core.errors import ConfigurationError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any) -> float:
    """A duration (``90``, ``"90s"``, ``"5m"``, ``"1h"``) in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT[match.group(2)]


def prometheus_duration(value: float) -> str:
    """``value`` seconds as a Prometheus duration (``5m``, ``90s``, ``250ms``)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{round(value * 1000)}ms"


class AlertRule(BaseModel):
    """One rule: a signal, a threshold with its clear level, and how long each must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    signal: Signal
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    """The level the value must pass back over to resolve (default: the threshold itself)."""
    window: float = 300.0
    for_: float = Field(60.0, alias="for", ge=0)
    keep_firing_for: float = Field(0.0, ge=0)
    min_requests: int = Field(10, ge=1)
    severity: Literal["info", "warning", "critical"] = "warning"
    summary: str = ""
    enabled: bool = True

    @field_validator("window", "for_", "keep_firing_for", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return seconds(value)

    @model_validator(mode="after")
    def _one_threshold(self) -> AlertRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"rule {self.name}: give exactly one of above: or below:")
        threshold = self.threshold
        if self.clear is not None and (self.clear > threshold if self.above is not None else self.clear < threshold):
            raise ValueError(f"rule {self.name}: clear must be on the healthy side of the threshold")
        if self.window <= 0:
            raise ValueError(f"rule {self.name}: window must be positive")
        return self

    @property
    def threshold(self) -> float:
        """The level at which the rule's condition holds."""
        return self.above if self.above is not None else self.below  # type: ignore[return-value]

    @property
    def clear_level(self) -> float:
        """The level at which a firing alert counts as clear again."""
        return self.clear if self.clear is not None else self.threshold

    def breached(self, value: float) -> bool:
        """True when ``value`` is at or past the threshold."""
        return value >= self.threshold if self.above is not None else value <= self.threshold

    def cleared(self, value: float) -> bool:
        """True when ``value`` is back on the healthy side of the clear level."""
        return value < self.clear_level if self.above is not None else value > self.clear_level

    def describe(self, value: float, labels: dict[str, str]) -> str:
        """The rule's summary with ``{value}``, ``{threshold}``, ``{window}`` and labels filled in."""
        text = self.summary or f"{self.signal.value} is {{value:.4g}} (threshold {{threshold:g}})"
        try:
            return text.format(value=value, threshold=self.threshold, window=prometheus_duration(self.window),
                               **labels)
        except (KeyError, ValueError, IndexError):
            return f"{self.name}: {self.signal.value}={value:.4g} {labels}"


def _read(text: str, where: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{where}: not valid YAML ({exc})", env_vars=["SOPHIA_ALERTS_FILE"]) from None
    entries = data.get("alerts") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigurationError(f"{where}: expected a top-level `alerts:` list of rules",
                                 env_vars=["SOPHIA_ALERTS_FILE"])
    return entries


def _build(entries: list[dict[str, Any]], where: str) -> list[AlertRule]:
    rules = []
    for entry in entries:
        try:
            rules.append(AlertRule.model_validate(entry))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}"
                                 for e in exc.errors(include_url=False))
            raise ConfigurationError(f"{where}: rule {entry.get('name', '?')!r}: {problems}",
                                     env_vars=["SOPHIA_ALERTS_FILE"]) from None
    return rules


def default_rules() -> list[AlertRule]:
    """The rules shipped with the package."""
    text = resources.files("app.alerts").joinpath("default_rules.yaml").read_text()
    return _build(_read(text, "default_rules.yaml"), "default_rules.yaml")


def load_rules(path: str | Path | None = None) -> list[AlertRule]:
    """The built-in rules, merged by name with those of ``path`` (a rule with ``enabled: false`` is dropped)."""
    merged = {rule.name: rule for rule in default_rules()}
    if path:
        file = Path(path)
        if not file.is_file():
            raise ConfigurationError(f"SOPHIA_ALERTS_FILE {file} does not exist", env_vars=["SOPHIA_ALERTS_FILE"])
        for rule in _build(_read(file.read_text(), str(file)), str(file)):
            merged[rule.name] = rule
    return [rule for rule in merged.values() if rule.enabled]
