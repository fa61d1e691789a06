"""The response cache in front of the gateway: exact (embedded or Redis) and semantic.

    cache = ResponseCache.from_settings(settings)     # the manager builds one; REDIS_URL picks Redis
    plan = cache.completion_plan(chain, messages, params, metadata)   # None: not cached
    hit = await plan.lookup(trace_id)                 # ChatCompletion with routing.cached, or None

Keys are ``domain:agent_id:request_hash`` (see ``app.cache.keys``); the README's Caching section has the rules.
"""

from app.cache.backends import CacheBackend, MemoryBackend
from app.cache.keys import cache_key, chat_request_hash
from app.cache.response_cache import CompletionPlan, EmbeddingPlan, ResponseCache, SemanticPolicy

__all__ = [
    "CacheBackend",
    "CompletionPlan",
    "EmbeddingPlan",
    "MemoryBackend",
    "ResponseCache",
    "SemanticPolicy",
    "cache_key",
    "chat_request_hash",
]
