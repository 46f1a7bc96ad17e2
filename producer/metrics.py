"""The producer's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from common.models import EventType

__all__ = [
    "ACCEPTED_BY_TYPE",
    "EVENTS_ACCEPTED",
    "EVENTS_REJECTED",
    "PUBLISH_FAILURES",
    "PUBLISH_SECONDS",
    "RATE_LIMITED",
    "RATE_LIMIT_ERRORS",
    "TENANT_TYPE_LABEL",
]

EVENTS_ACCEPTED = Counter(
    "herald_events_published_total",
    "Events confirmed by RabbitMQ and answered 202, by type: the built-ins by name, every type "
    "a tenant registered as `tenant` (their names would make the label set unbounded)",
    ["type"],
)
EVENTS_REJECTED = Counter(
    "herald_events_rejected_total", "Events refused with a 4xx before publishing", ["reason"]
)
PUBLISH_FAILURES = Counter(
    "herald_publish_failures_total",
    "Publishes the broker did not confirm (answered 503), by reason: disconnected, blocked "
    "(a RabbitMQ memory or disk alarm), rejected (a nack: the queue is at its limit), "
    "unroutable, timeout, error",
    ["reason"],
)
TENANT_TYPE_LABEL = "tenant"
ACCEPTED_BY_TYPE = {kind.value: EVENTS_ACCEPTED.labels(kind.value) for kind in EventType}
"""The counter's child per built-in type, looked up once rather than per event; a tenant's
type counts as :data:`TENANT_TYPE_LABEL`."""
ACCEPTED_BY_TYPE[TENANT_TYPE_LABEL] = EVENTS_ACCEPTED.labels(TENANT_TYPE_LABEL)

PUBLISH_SECONDS = Histogram(
    "herald_publish_seconds",
    "Time from publish to the broker's confirm of every event of one request",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

RATE_LIMITED = Counter(
    "herald_ingest_rate_limited_total",
    "Ingest calls refused with 429 by the token bucket at the door",
    ["tenant"],
)
RATE_LIMIT_ERRORS = Counter(
    "herald_ingest_rate_limit_errors_total",
    "Ingest calls let through unchecked (fail open): Redis did not answer, now or within "
    "the last second",
)
