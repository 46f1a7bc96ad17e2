"""The persister's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "BATCH_SIZE",
    "BUFFERED",
    "CLAIMED",
    "DEAD_LETTERED",
    "EXPIRED",
    "PERSISTED",
    "PRUNED",
    "RETRIES",
    "STREAM_ENTRIES",
    "STREAM_LAG",
    "STREAM_PENDING",
    "count_retry",
]

PERSISTED = Counter(
    "herald_persisted_total", "Stream entries written to the store and acked, by status",
    ["status"],
)
BATCH_SECONDS = Histogram(
    "herald_persist_batch_seconds", "From a batch read off the stream to its XACK",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_SIZE = Histogram(
    "herald_persist_batch_size", "Stream entries per batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)
EXPIRED = Counter(
    "herald_expired_total",
    "Notifications whose TTL ran out unacked, moved from the buffer to the stream as expired",
)
RETRIES = Counter(
    "herald_persist_retries_total", "Operations retried after Redis or the store failed",
    ["operation"],
)


def count_retry(operation: str, exc: BaseException) -> None:
    """``on_retry`` of the persister's :class:`common.retry.Retrier`: by operation."""
    RETRIES.labels(operation).inc()
CLAIMED = Counter(
    "herald_persist_claimed_total", "Stream entries taken over from a persister that stalled"
)
DEAD_LETTERED = Counter(
    "herald_persist_dead_lettered_total",
    "Malformed stream entries moved to the persist dead-letter stream",
)
PRUNED = Counter("herald_store_pruned_total", "Stored notifications deleted past retention")
STREAM_ENTRIES = Gauge("herald_persist_stream_entries",
                       "Entries in the persist stream (XLEN; trimmed once every group is past)")
STREAM_LAG = Gauge("herald_persist_stream_lag",
                   "Persist-stream entries the persister group has not read yet")
STREAM_PENDING = Gauge("herald_persist_stream_pending",
                       "Persist-stream entries read by a persister and not yet stored")
BUFFERED = Gauge("herald_buffered_notifications",
                 "Notifications pending in the Redis buffer (the expiry index)")
