"""Health of the analytics pipeline itself: a failing database shows here, not in requests."""

from prometheus_client import Counter

WRITTEN = Counter("sophia_analytics_rows_written", "Request records stored")
DROPPED = Counter("sophia_analytics_rows_dropped", "Request records lost", ["reason"])
