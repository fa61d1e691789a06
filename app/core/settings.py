"""Typed settings, read from the environment and ``.env`` (environment wins).

The variables are exactly those of DESIGN.md section 3, plus ``<P>_MODEL`` / ``<P>_EMBEDDING_MODEL``
to override a provider's default models. Provider fields are generated from the provider catalog so
that adding a provider adds its settings. Keys are ``SecretStr``: they print as ``**********``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.errors import ConfigurationError
from app.core.placeholders import looks_like_placeholder
from app.core.providers import PROVIDERS, Provider

log = logging.getLogger("app.core.settings")

HOSTED_BASE_URL = "https://api.portkey.ai/v1"
LOCAL_BASE_URL = "http://127.0.0.1:8787/v1"


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError("must be an http:// or https:// URL")
    return value


HttpUrlStr = Annotated[str, AfterValidator(_http_url)]
Seconds = Annotated[float, Field(gt=0, le=3600)]
AttemptDeadlines = dict[Literal["headers", "first_content", "idle"], Seconds]
"""A role's per-attempt deadlines that differ from the defaults (see ``app.core.deadlines``)."""


class CallerLimits(BaseModel):
    """Limits of one role, agent or API token (each unset field: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)
    usd_per_day: float | None = Field(None, gt=0)
    usd_per_month: float | None = Field(None, gt=0)

# Settings whose template placeholders (``QDRANT_URL=your_qdrant_url``...) count as not set. Provider keys
# are not here: key resolution reports their placeholders per provider (``app.core.keys``).
_PLACEHOLDER_UNSET = ("portkey_api_key", "portkey_base_url", "redis_url", "qdrant_url", "qdrant_api_key",
                      "qdrant_path", "milvus_uri", "weaviate_url", "weaviate_api_key", "database_url",
                      *(p.base_url_env.lower() for p in PROVIDERS.values()))
_warned_placeholders: set[str] = set()
_warn_lock = threading.Lock()


def _drop_placeholders(data: dict[str, Any]) -> dict[str, Any]:
    found = [name for name in _PLACEHOLDER_UNSET
             if isinstance(data.get(name), str) and looks_like_placeholder(data[name])]
    if not found:
        return data
    with _warn_lock:
        new = [name.upper() for name in found if name not in _warned_placeholders]
        _warned_placeholders.update(found)
    if new:  # one warning per process, naming the variables (never their values)
        log.warning("%s %s a value copied from a template, not a real one: treated as not set",
                    ", ".join(new), "holds" if len(new) == 1 else "hold")
    return {k: v for k, v in data.items() if k not in found}


class AlertWebhook(BaseModel):
    """Where alert notifications are posted, and in which body: generic JSON or Slack-compatible."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr
    """Secret: a Slack incoming-webhook URL is its own credential."""
    format: Literal["json", "slack"] = "json"


class Settings(BaseSettings):
    """Every routing-layer setting; provider fields (``<P>_API_KEY``...) are added from the catalog below."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True,
        case_sensitive=False, frozen=True,
    )

    portkey_api_key: SecretStr | None = None
    portkey_base_url: HttpUrlStr | None = None

    max_retries: int = Field(3, ge=0, le=5, description="gateway retries per target (its maximum is 5)")
    request_timeout: float = Field(60.0, gt=0, le=3600, description="seconds per provider attempt")
    role_deadlines: dict[str, AttemptDeadlines] = Field(
        default_factory=dict,
        description='JSON per role, e.g. {"sophia/financial_analyst": {"first_content": 120}}; '
                    "headers, first_content, idle in seconds (default: REQUEST_TIMEOUT, half, half)")
    cache_ttl: int = Field(3600, ge=0, description="seconds a cached answer lives; 0 disables caching")
    enable_fallback: bool = True
    role_chains: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON, e.g. {"artemis/code_reviewer": ["openai/gpt-4.1", "anthropic"]} (prefer the routing file)',
    )

    # Routing policies; see the README's "The routing file".
    sophia_routing_file: str | None = Field(None, description="YAML routing file: roles and routes added to the "
                                                              "built-in ones")
    sophia_routing_watch: float = Field(1.0, ge=0, le=3600, description="seconds between checks of the routing "
                                                                        "file for changes (0: only SIGHUP reloads)")
    sophia_complexity_threshold: float = Field(0.5, gt=0, lt=1, description="P(complex) from which a request is "
                                                                            "complex; higher sends more to simple")

    # The response cache; see the README's Caching section.
    cache_max_entries: int = Field(10_000, ge=1, description="entries the embedded cache and semantic index keep")
    semantic_cache: bool = Field(False, description="semantic cache for every single-turn call")
    semantic_cache_threshold: float = Field(0.95, gt=0, le=1, description="cosine similarity a semantic hit needs")
    semantic_cache_roles: list[str] = Field(default_factory=list, description='JSON, e.g. ["sophia/market_analyst"]')

    embeddings: Literal["local", "gateway"] = Field(
        "local", description="local: all-MiniLM-L6-v2 on the CPU; gateway: the first configured provider's model")
    sophia_embedding_threads: int = Field(1, ge=1, le=64, description="CPU threads of the local embedder")

    # Circuit breakers per target; see the README's Reliability section.
    circuit_breaker: bool = Field(True, description="keep targets whose circuit is open last in their chains")
    circuit_window: float = Field(60.0, gt=0, le=3600, description="seconds of attempts a failure rate covers")
    circuit_min_requests: int = Field(10, ge=1, description="attempts in the window before a circuit may open")
    circuit_failure_rate: float = Field(0.5, gt=0, le=1, description="share of failed attempts that opens it")
    circuit_cooldown: float = Field(30.0, gt=0, le=3600, description="seconds open before one probe")
    circuit_max_cooldown: float = Field(300.0, gt=0, le=86400, description="cooldown cap (it doubles per failed probe)")

    # Limits and budgets of the Python API and the service; see the README's Reliability section. Keys are
    # role keys, agent ids, API token digests, or "*" (each one that has no entry of its own).
    role_limits: dict[str, CallerLimits] = Field(
        default_factory=dict, description='JSON, e.g. {"*": {"requests_per_minute": 60}, '
                                          '"sophia/market_analyst": {"usd_per_day": 5}}')
    agent_limits: dict[str, CallerLimits] = Field(default_factory=dict, description='JSON, e.g. {"*": {...}}')
    api_token_limits: dict[str, CallerLimits] = Field(default_factory=dict, description='JSON, e.g. {"*": {...}}')
    limits_fail_closed: bool = Field(False, description="refuse calls while the limit store is down")

    redis_url: str | None = None
    redis_namespace: str = Field("sophia", pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                                 description="prefix of the breaker and limit keys in Redis")
    qdrant_url: HttpUrlStr | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: str | None = None
    milvus_uri: str | None = None
    weaviate_url: HttpUrlStr | None = None
    weaviate_api_key: SecretStr | None = None
    database_url: SecretStr | None = None

    # Vector stores and agent memory; see the README's Vector databases and agent memory section.
    sophia_data_dir: str = Field(".sophia", description="folder of Qdrant local and Milvus Lite data")
    vector_store: str = Field("qdrant", pattern="^(qdrant|milvus)$", description="the store agent memory uses")
    weaviate_grpc_port: int = Field(50051, ge=1, le=65535)
    memory_enabled: bool = True
    memory_top_k: int = Field(5, ge=0, le=50, description="memories recalled into an agent's prompt")
    memory_max_chars: int = Field(2000, ge=0, le=50_000, description="characters of memories per prompt")
    memory_dedup_threshold: float = Field(0.92, gt=0, le=1, description="cosine at which memories merge")
    memory_timeout: float = Field(5.0, gt=0, le=120, description="seconds before memory gives up on a call")

    # Documents grounding agents (roles with grounded: true in the routing file); see the README's Documents section.
    documents_top_k: int = Field(4, ge=0, le=20, description="chunks retrieved into a grounded agent's "
                                                             "prompt; 0 turns grounding off")
    documents_max_chars: int = Field(4000, ge=0, le=50_000, description="characters of chunks per prompt")
    documents_timeout: float = Field(5.0, gt=0, le=120,
                                     description="seconds before retrieval gives up on a call")

    sophia_gateway_dir: str | None = Field(None, description="where the pinned gateway is installed "
                                                             "(default: the repository's gateway/)")

    # Operations (alerts, anomalies, key rotation); see the README's Operating it section.
    alerts_enabled: bool = Field(True, description="evaluate the alert rules in the service")
    sophia_alerts_file: str | None = Field(None, description="YAML file of alert rules (merged by name over "
                                                             "the built-in ones; enabled: false drops one)")
    alerts_interval: float = Field(5.0, gt=0, le=3600, description="seconds between rule evaluations "
                                                                  "(calls also wake the evaluator)")
    alert_webhooks: list[AlertWebhook] = Field(
        default_factory=list, description='JSON, e.g. [{"url": "https://hooks.slack.com/...", "format": "slack"}]')
    alert_webhook_attempts: int = Field(6, ge=1, le=20, description="tries per notification before dead-lettering")
    alert_webhook_backoff: float = Field(1.0, gt=0, le=300, description="first retry delay in seconds (doubles)")
    alert_webhook_timeout: float = Field(5.0, gt=0, le=120, description="seconds per webhook request")
    anomaly_interval: float = Field(60.0, ge=1, le=86400, description="seconds per usage interval")
    anomaly_alpha: float = Field(0.3, gt=0, le=1, description="EWMA weight of the newest interval")
    anomaly_warmup: int = Field(10, ge=2, le=10_000, description="intervals before a baseline may flag")
    key_max_age_days: float = Field(90.0, gt=0, description="a key older than this is due for rotation")
    key_warn_days: float = Field(14.0, ge=0, description="warn this many days before a key is due")
    key_grace_seconds: float = Field(900.0, ge=0, description="keep the old key valid this long after a rotation")
    key_watch_interval: float = Field(2.0, ge=0, le=3600, description="seconds between checks of .env for "
                                                                       "rotated keys in the service; 0: off")

    # The HTTP service (`sophia serve`); see the README's Operating it section.
    sophia_host: str = Field("127.0.0.1", description="interface to bind; anything but loopback needs keys")
    sophia_port: int = Field(8000, ge=1, le=65535)
    sophia_api_keys: SecretStr | None = Field(None, description="comma-separated bearer tokens")
    sophia_rate_limit: str = Field("120/minute", description="per token (or client IP), e.g. 10/second")
    sophia_max_body_bytes: int = Field(1_000_000, ge=1024, description="larger request bodies get 413")
    sophia_health_interval: float = Field(300.0, ge=0, description="seconds between the service's background "
                                          "provider probes (one tiny completion each); 0: none")

    @model_validator(mode="before")
    @classmethod
    def _placeholders_are_not_set(cls, data: Any) -> Any:
        return _drop_placeholders(data) if isinstance(data, dict) else data

    @field_validator("role_chains", "semantic_cache_roles", "role_deadlines", "role_limits")
    @classmethod
    def _role_keys(cls, value: dict[str, Any] | list[str], info: ValidationInfo) -> dict[str, Any] | list[str]:
        # Whether the role exists is known once the routing file is read (app.routing.load_policy).
        for key in value:
            domain, _, name = key.partition("/")
            if (key != "*" or info.field_name != "role_limits") and (domain not in ("artemis", "sophia") or not name):
                raise ValueError(f"{key!r} is not a role: write <domain>/<role>, e.g. artemis/code_reviewer")
            if isinstance(value, dict) and not value[key] and not isinstance(value[key], CallerLimits):
                raise ValueError(f"{key}: empty")
        return value

    @property
    def hosted(self) -> bool:
        """True when requests go to hosted Portkey (virtual keys); False for a self-hosted gateway."""
        return self.portkey_api_key is not None

    @property
    def gateway_url(self) -> str:
        """Where requests go: ``PORTKEY_BASE_URL`` if set, else hosted Portkey or the local gateway."""
        if self.portkey_base_url:
            return self.portkey_base_url
        return HOSTED_BASE_URL if self.hosted else LOCAL_BASE_URL

    def provider(self, provider: Provider) -> ProviderSettings:
        """The settings of one provider, with the catalog's defaults filled in."""
        def value(env: str) -> Any:
            return getattr(self, env.lower())

        base_url = value(provider.base_url_env)
        return ProviderSettings(
            provider=provider,
            virtual_key=value(provider.vk_env),
            api_key=value(provider.api_key_env),
            base_url=base_url or provider.base_url,
            base_url_overridden=base_url is not None,
            chat_model=value(provider.model_env) or provider.chat_model,
            embedding_model=value(provider.embedding_model_env) or provider.embedding_model,
        )


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One provider's keys, base URL and models, as configured (catalog defaults filled in)."""

    provider: Provider
    virtual_key: SecretStr | None
    api_key: SecretStr | None
    base_url: str
    base_url_overridden: bool
    chat_model: str
    embedding_model: str | None


def _provider_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for p in PROVIDERS.values():
        fields[p.vk_env.lower()] = (SecretStr | None, None)
        fields[p.api_key_env.lower()] = (SecretStr | None, None)
        fields[p.base_url_env.lower()] = (HttpUrlStr | None, None)
        fields[p.model_env.lower()] = (str | None, None)
        fields[p.embedding_model_env.lower()] = (str | None, None)
    return fields


# The class that is instantiated: Settings plus one group of fields per provider of the catalog. Code reads
# provider fields through ``Settings.provider()``, so ``Settings`` is the type to annotate with.
_SettingsWithProviders = create_model("Settings", __base__=Settings, **_provider_fields())
_SettingsWithProviders.__doc__ = "All routing-layer settings; see DESIGN.md section 3 and .env.template."


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning a validation failure into a ConfigurationError naming each variable.

    The offending values are never echoed: they may be keys.
    """
    try:
        return _SettingsWithProviders(**overrides)
    except ValidationError as exc:
        problems = []
        env_vars = []
        for err in exc.errors(include_input=False, include_url=False):
            var = str(err["loc"][0]).upper() if err["loc"] else "?"
            env_vars.append(var)
            problems.append(f"{var}: {err['msg']}")
        raise ConfigurationError("invalid settings: " + "; ".join(problems), env_vars=env_vars) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment and ``.env``.

    Raises ``ConfigurationError`` naming each invalid variable.
    """
    return load_settings()
