"""The consumer's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["BATCH_SECONDS", "BATCH_SIZE", "CAPPED", "EVENTS", "FANOUT_CHUNKS", "HELD", "HOLDING",
           "NOTIFICATIONS", "QUEUE_MESSAGES", "RELEASED", "RELEASE_BATCH", "RETRIES",
           "count_retry"]

EVENTS = Counter(
    "herald_consumer_events_total",
    "Events handled, by outcome: notified, duplicate, erased, muted (every recipient's "
    "preferences stopped it), held (quiet hours), semantic_duplicate, rate_limited, invalid, "
    "unknown_type, template_failed, fanout (a topic event: its fan-out recorded and its first "
    "chunk published)",
    ["outcome"],
)
FANOUT_CHUNKS = Counter(
    "herald_consumer_fanout_chunks_total",
    "Fan-out chunks (issue 20), by outcome: published (a successor, once), made (a page "
    "taken and made), cancelled (taken after a cancel: nothing made), unknown (no such "
    "fan-out: expired), invalid (dead-lettered)",
    ["outcome"],
)
NOTIFICATIONS = Counter(
    "herald_notifications_total",
    "Notifications by outcome: buffered, duplicate, semantic_duplicate, erased, muted (a "
    "preference stopped it), held (kept for the end of the user's quiet hours), joined (an "
    "update of a digest), repeated (an actor the digest counts already), template_failed",
    ["outcome"],
)
RELEASE_OUTCOMES = Counter(
    "herald_consumer_release_outcomes_total",
    "Notifications released from quiet hours, by what became of them: made, held_again (still "
    "quiet: the user changed zone or hours), muted (a preference stopped it since), erased, "
    "repeated, duplicate (made before), template_failed, unknown_type, invalid",
    ["outcome"],
)
CAPPED = Counter(
    "herald_notifications_capped_total",
    "Notifications buffered for a recipient already holding MAX_PENDING_PER_USER: each time, "
    "their oldest pending one went to the store as expired (why: capped)",
)
HOLDING = Gauge(
    "herald_consumer_holding",
    "1 while the consumer takes no events because Redis is over HERALD_REDIS_HIGH_WATER of its "
    "maxmemory (until HERALD_REDIS_LOW_WATER), else 0",
)
RETRIES = Counter(
    "herald_consumer_retries_total", "Batches retried after Redis or RabbitMQ failed", ["cause"]
)


def count_retry(operation: str, exc: BaseException) -> None:
    """``on_retry`` of the consumer's :class:`common.retry.Retrier`: by the failure's type."""
    RETRIES.labels(type(exc).__name__).inc()
BATCH_SIZE = Histogram(
    "herald_consumer_batch_size", "Messages per processed batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
BATCH_SECONDS = Histogram(
    "herald_consumer_batch_seconds", "Time to process one batch (Redis work and acks)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
QUEUE_MESSAGES = Gauge(
    "herald_queue_messages",
    "Messages ready in a queue, sampled by the consumer: notify (events waiting to be handled) "
    "and dead_letter", ["queue"],
)
HELD = Gauge(
    "herald_consumer_held",
    "Notifications held in Redis for recipients in quiet hours (every shard, those being "
    "released included), sampled at each release turn",
)
RELEASED = Counter(
    "herald_consumer_released_total",
    "Held notifications released at the end of their quiet hours: handed to the pipeline and "
    "then forgotten by the held buffer",
)
RELEASE_BATCH = Histogram(
    "herald_consumer_release_batch_size", "Held notifications taken per release turn (at most "
    "HERALD_RELEASE_BATCH)",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
