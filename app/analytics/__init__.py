"""Request analytics: one row per call through the manager, in SQLite (default) or PostgreSQL.

    store = AnalyticsStore.from_settings(settings)
    await store.start()                  # creates the table, starts the background writer
    manager.observers.add(store.observe)  # never blocks a request
    ...
    await store.aclose()                 # flushes what is queued

Read by the dashboard and ``sophia stats``: :meth:`AnalyticsStore.provider_stats`,
:meth:`AnalyticsStore.timeline`; workflow runs (``store.observe_run``) by :meth:`AnalyticsStore.recent_runs`,
:meth:`AnalyticsStore.run` and :meth:`AnalyticsStore.calls_of`.
"""

from app.analytics.records import RequestRecord, record_from_call
from app.analytics.runs import RunRecord
from app.analytics.store import AnalyticsStore, ProviderStats, database_url

__all__ = ["AnalyticsStore", "ProviderStats", "RequestRecord", "RunRecord", "database_url", "record_from_call"]
