"""Static description of the seven simulated providers.

Everything that differs between providers but is not behaviour (model ids, embedding
dimensions, which wire protocol they speak) lives here so the format modules can stay
table-driven.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Wire = Literal["openai", "anthropic"]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One simulated provider: its wire protocol, its models and its embedding models."""

    name: str
    wire: Wire
    # Model ids listed by GET /models. Requests naming other models are still served:
    # tests and routing configs should not have to track real catalogues.
    models: tuple[str, ...]
    # model id -> native embedding dimension; empty means the provider has no /embeddings.
    embedding_models: dict[str, int] = field(default_factory=dict)
    searches: bool = False
    """Speaks Perplexity's search options (``app.simulators.provider_options``)."""

    @property
    def prefix(self) -> str:
        """The path its endpoints live under (``/<name>/v1``)."""
        return f"/{self.name}/v1"

    @property
    def has_embeddings(self) -> bool:
        """True when it serves ``/embeddings``."""
        return bool(self.embedding_models)


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "openai",
            "openai",
            (
                "gpt-4o",
                "gpt-4o-mini",
                "gpt-4.1",
                "gpt-4.1-mini",
                "o3-mini",
                "text-embedding-3-small",
                "text-embedding-3-large",
                "text-embedding-ada-002",
            ),
            {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536},
        ),
        ProviderSpec(
            "anthropic",
            "anthropic",
            (
                "claude-sonnet-4-20250514",
                "claude-opus-4-20250514",
                "claude-3-7-sonnet-20250219",
                "claude-3-5-haiku-20241022",
            ),
        ),
        ProviderSpec("deepseek", "openai", ("deepseek-chat", "deepseek-reasoner")),
        ProviderSpec(
            "groq", "openai", ("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b")
        ),
        ProviderSpec(
            "mistral",
            "openai",
            (
                "mistral-large-latest",
                "mistral-small-latest",
                "open-mistral-nemo",
                "codestral-latest",
                "mistral-embed",
            ),
            {"mistral-embed": 1024},
        ),
        ProviderSpec(
            "together",
            "openai",
            (
                "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "mistralai/Mixtral-8x7B-Instruct-v0.1",
                "Qwen/Qwen2.5-72B-Instruct-Turbo",
                "togethercomputer/m2-bert-80M-8k-retrieval",
                "BAAI/bge-large-en-v1.5",
            ),
            {
                "togethercomputer/m2-bert-80M-8k-retrieval": 768,
                "BAAI/bge-large-en-v1.5": 1024,
                "BAAI/bge-base-en-v1.5": 768,
            },
        ),
        ProviderSpec(
            "perplexity", "openai", ("sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research"),
            searches=True,
        ),
    )
}

PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)

# Dimensions are looked up across all providers so that, e.g., text-embedding-3-large sent to
# Together still gets 3072; anything unknown gets 1536 on every provider alike.
KNOWN_EMBEDDING_DIMS: dict[str, int] = {
    model: dim for spec in PROVIDERS.values() for model, dim in spec.embedding_models.items()
}
DEFAULT_EMBEDDING_DIM = 1536


def embedding_dim(model: str) -> int:
    """The vector size of ``model`` (1536 for a model no provider lists)."""
    return KNOWN_EMBEDDING_DIMS.get(model, DEFAULT_EMBEDDING_DIM)
