"""The routing layer's metric definitions (default registry, ``sophia_`` prefix).

Labels are providers, models, kinds and outcomes only: never keys, prompts or trace ids, so the
label sets stay small and nothing secret can leak into a scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Gateway round trips run from ~2 ms (simulators, cache) to minutes (long generations).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# ``source`` keeps answers from the response cache apart from provider responses: ``provider``, ``cache``
# (an exact hit) or ``semantic_cache``; a hit is labelled with the provider that gave the stored answer.
REQUESTS = Counter("sophia_requests", "Calls through the manager, by outcome and by who answered (source)",
                   ["kind", "provider", "model", "outcome", "source"])
LATENCY = Histogram("sophia_request_latency_seconds",
                    "Latency of successful calls, per serving provider and model, and source (provider or cache)",
                    ["kind", "provider", "model", "source"], buckets=LATENCY_BUCKETS)
FALLBACKS = Counter("sophia_fallbacks", "Calls served by a target other than the chain's first",
                    ["requested", "served"])
ATTEMPTS = Counter("sophia_provider_attempts", "Upstream attempts per provider, by result",
                   ["provider", "result"])
PROVIDER_UP = Gauge("sophia_provider_up", "1 when the provider's last attempt or health probe succeeded",
                    ["provider"])
TOKENS = Counter("sophia_tokens", "Tokens used, per provider, model and direction",
                 ["provider", "model", "direction"])
COST = Counter("sophia_cost_usd", "Estimated spend in USD (calls whose model has a price entry)",
               ["provider", "model"])
