"""The provider catalog: every provider the routing layer knows, as data.

Adding a provider means adding one row to ``PROVIDERS`` (and, for the simulators, one wire format
if it does not speak OpenAI's). Nothing else branches on a provider's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class HostStyle(str, Enum):
    """How the Portkey gateway turns a target's ``custom_host`` into a request URL.

    Verified against @portkey-ai/gateway 1.15.2 (DESIGN.md section 4): for most OpenAI-style
    providers it appends ``/chat/completions`` to the host, so the host must end in ``/v1``; for
    DeepSeek and Together it appends ``/v1/chat/completions`` itself, so the ``/v1`` must be left off.
    """

    APPENDS_PATH = "appends_path"
    APPENDS_V1_PATH = "appends_v1_path"


@dataclass(frozen=True, slots=True)
class PromptCaching:
    """A provider whose API caches a marked prompt prefix (Anthropic's ``cache_control``).

    Verified against Anthropic's Messages API documentation and the gateway 1.15.2's Anthropic
    transform: a system message carrying ``cache_control: {"type": "ephemeral"}`` (string content)
    becomes a system text block with that marker; the answer's usage reports
    ``cache_creation_input_tokens`` and ``cache_read_input_tokens`` next to ``input_tokens`` (which then
    counts only the uncached rest). Prefixes shorter than ``min_tokens`` are not cached (no error).
    OpenAI-wire providers reject the marker (Groq: "property 'cache_control' is unsupported"), so it is
    only sent when every target of a chain understands it.
    """

    min_tokens: int
    chars_per_token: int = 4
    """For estimating a prompt's tokens without a tokenizer (English averages about four)."""
    cache_type: str = "ephemeral"

    @property
    def marker(self) -> dict[str, str]:
        """The ``cache_control`` value that marks a block."""
        return {"type": self.cache_type}

    def worth_marking(self, text: str) -> bool:
        """True when ``text`` is long enough to be cached."""
        return len(text) >= self.min_tokens * self.chars_per_token


@dataclass(frozen=True, slots=True)
class RequestOption:
    """A request parameter only this provider understands, with the values its API documents.

    Routing-file targets may set it (``override_params``); it then reaches only that target.
    """

    name: str
    shape: Literal["choice", "strings", "object"]
    choices: tuple[str, ...] = ()
    """``choice``: the allowed values."""
    max_items: int | None = None
    """``strings``: at most this many."""
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``object``: each allowed key and its allowed values."""


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider of the catalog: how the gateway addresses it and which settings configure it."""

    name: str
    """Our name, used in chains, settings and results."""
    slug: str
    """The gateway's provider id (``x-portkey-provider`` / a target's ``provider``)."""
    display_name: str
    env_prefix: str
    base_url: str
    """The provider's public API base, the path its endpoints append to."""
    chat_model: str
    embedding_model: str | None
    host_style: HostStyle = HostStyle.APPENDS_PATH
    default_max_tokens: int | None = None
    """Sent when the caller gives no max_tokens, for APIs that require one (Anthropic's does)."""
    prompt_caching: PromptCaching | None = None
    options: tuple[RequestOption, ...] = ()
    """Parameters of this provider's own, that the gateway passes through to it."""

    @property
    def vk_env(self) -> str:
        """The variable holding its hosted-Portkey virtual key."""
        return f"{self.env_prefix}_VK"

    @property
    def api_key_env(self) -> str:
        """The variable holding its API key."""
        return f"{self.env_prefix}_API_KEY"

    @property
    def base_url_env(self) -> str:
        """The variable that overrides its API base (a proxy or a simulator)."""
        return f"{self.env_prefix}_BASE_URL"

    @property
    def model_env(self) -> str:
        """The variable that overrides its default chat model."""
        return f"{self.env_prefix}_MODEL"

    @property
    def embedding_model_env(self) -> str:
        """The variable that overrides its default embedding model."""
        return f"{self.env_prefix}_EMBEDDING_MODEL"

    @property
    def supports_embeddings(self) -> bool:
        """False for providers without an embeddings API."""
        return self.embedding_model is not None

    def custom_host(self, base_url: str) -> str:
        """The gateway ``custom_host`` that makes the gateway call ``base_url``'s endpoints."""
        base = base_url.rstrip("/")
        if self.host_style is HostStyle.APPENDS_V1_PATH and base.endswith("/v1"):
            return base[: -len("/v1")]
        return base


# Perplexity's search options (its chat completions API), the ones the gateway 1.15.2 passes through
# (src/providers/perplexity-ai/chatComplete.ts maps exactly these three).
PERPLEXITY_SEARCH_OPTIONS = (
    RequestOption("search_recency_filter", "choice", choices=("hour", "day", "week", "month", "year")),
    RequestOption("search_domain_filter", "strings", max_items=20),
    RequestOption("web_search_options", "object", fields=(("search_context_size", ("low", "medium", "high")),)),
)

PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", "openai", "OpenAI", "OPENAI", "https://api.openai.com/v1",
                 chat_model="gpt-4o", embedding_model="text-embedding-3-small"),
        Provider("anthropic", "anthropic", "Anthropic", "ANTHROPIC", "https://api.anthropic.com/v1",
                 chat_model="claude-sonnet-4-5", embedding_model=None, default_max_tokens=4096,
                 # 1024 tokens is the documented minimum for Sonnet and Opus models (Haiku's is higher:
                 # a shorter marked prefix is simply not cached).
                 prompt_caching=PromptCaching(min_tokens=1024)),
        Provider("deepseek", "deepseek", "DeepSeek", "DEEPSEEK", "https://api.deepseek.com/v1",
                 chat_model="deepseek-chat", embedding_model=None,
                 host_style=HostStyle.APPENDS_V1_PATH),
        Provider("groq", "groq", "Groq", "GROQ", "https://api.groq.com/openai/v1",
                 chat_model="llama-3.3-70b-versatile", embedding_model=None),
        Provider("mistral", "mistral-ai", "Mistral", "MISTRAL", "https://api.mistral.ai/v1",
                 chat_model="mistral-large-latest", embedding_model="mistral-embed"),
        Provider("together", "together-ai", "Together", "TOGETHER", "https://api.together.xyz/v1",
                 chat_model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
                 embedding_model="BAAI/bge-base-en-v1.5",
                 host_style=HostStyle.APPENDS_V1_PATH),
        Provider("perplexity", "perplexity-ai", "Perplexity", "PERPLEXITY", "https://api.perplexity.ai",
                 chat_model="sonar-pro", embedding_model=None, options=PERPLEXITY_SEARCH_OPTIONS),
    )
}

# A caller that names only a provider gets it first, then these, in order (ENABLE_FALLBACK=true).
# Chosen so a fallback differs in vendor and model family from the primary.
DEFAULT_FALLBACKS: dict[str, tuple[str, ...]] = {
    "openai": ("anthropic", "deepseek"),
    "anthropic": ("openai", "deepseek"),
    "deepseek": ("openai", "mistral"),
    "groq": ("together", "mistral"),
    "mistral": ("openai", "groq"),
    "together": ("groq", "mistral"),
    "perplexity": ("openai", "anthropic"),
}


def get_provider(name: str) -> Provider:
    """Look a provider up by our name or by its gateway slug."""
    key = name.strip().lower()
    provider = PROVIDERS.get(key) or _BY_SLUG.get(key)
    if provider is None:
        from app.core.errors import UnknownProviderError

        raise UnknownProviderError(name, known=PROVIDERS)
    return provider


_BY_SLUG = {p.slug: p for p in PROVIDERS.values()}
