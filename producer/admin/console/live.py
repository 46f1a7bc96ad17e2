"""Pure: the Live page's figures from every live replica's snapshot
(:mod:`common.telemetry.snapshot`).

* flows per second are the sum over the replicas of a service (each replica computed its own
  rate from its successive snapshots); ``None`` when no replica of that service reports;
* queue depth, buffered notifications, persist lag and dead-letter depth describe one shared
  thing that every replica of a service samples: the largest value reported (the freshest
  sampler is usually the largest after growth; a stale one lags by at most two seconds);
* delivery latency p50/p99: the gateways' histogram buckets that grew over the last ten
  seconds, summed, interpolated as Prometheus' ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from common.telemetry.snapshot import RECENT_SECONDS, parse_key

__all__ = ["aggregate", "histogram_quantile"]

Snapshot = Mapping[str, Any]

FLOWS = {
    "accepted": ("producer", "herald_events_published_total", {}),
    "buffered": ("consumer", "herald_notifications_total", {"outcome": "buffered"}),
    "delivered": ("ws_gateway", "herald_gateway_notifications_sent_total", {}),
    "acked": ("ws_gateway", "herald_gateway_acks_total", {}),
    "expired": ("persister", "herald_expired_total", {}),
    # 503s because RabbitMQ refused or did not confirm (alarm, full queue, outage)
    "refused": ("producer", "herald_publish_failures_total", {}),
}
LEVELS = {
    "notifyQueue": ("consumer", "herald_queue_messages", {"queue": "notify"}),
    "deadLetters": ("consumer", "herald_queue_messages", {"queue": "dead_letter"}),
    "bufferedNotifications": ("persister", "herald_buffered_notifications", {}),
    "persistLag": ("persister", "herald_persist_stream_lag", {}),
    "persistPending": ("persister", "herald_persist_stream_pending", {}),
    # 1 while a consumer takes no events: Redis is over HERALD_REDIS_HIGH_WATER
    "consumerHolding": ("consumer", "herald_consumer_holding", {}),
}
LATENCY = "herald_delivery_latency_seconds_bucket"


def _sum(samples: Mapping[str, Any], name: str, labels: Mapping[str, str]) -> float | None:
    total: float | None = None
    for key, value in samples.items():
        if not key.startswith(name):
            continue
        found, have = parse_key(key)
        if found == name and all(have.get(k) == v for k, v in labels.items()):
            total = (total or 0.0) + float(value)
    return total


def _of(snapshots: Iterable[Snapshot], service: str) -> list[Snapshot]:
    return [s for s in snapshots if s.get("service") == service]


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """``q`` of cumulative ``buckets`` (upper bound → count), linearly interpolated within
    the bucket; the largest finite bound when it falls in ``+Inf``; ``None`` if empty."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _latency(gateways: list[Snapshot]) -> dict[str, Any]:
    buckets: dict[float, float] = {}
    for snapshot in gateways:
        for key, value in (snapshot.get("recent") or {}).items():
            name, labels = parse_key(key)
            if name == LATENCY and "le" in labels:
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + float(value)
    samples = max(buckets.values()) if buckets else 0.0
    return {"p50": histogram_quantile(0.5, buckets), "p99": histogram_quantile(0.99, buckets),
            "samples": int(samples), "windowSeconds": RECENT_SECONDS}


def aggregate(snapshots: Sequence[Snapshot], now_ms: int) -> dict[str, Any]:
    flows: dict[str, float | None] = {}
    for field, (service, name, labels) in FLOWS.items():
        mine = _of(snapshots, service)
        flows[field] = (round(sum(_sum(s.get("rates") or {}, name, labels) or 0.0
                                  for s in mine), 3) if mine else None)
    levels: dict[str, float | None] = {}
    for field, (service, name, labels) in LEVELS.items():
        found = [v for s in _of(snapshots, service)
                 if (v := _sum(s.get("values") or {}, name, labels)) is not None]
        levels[field] = max(found) if found else None
    growth = [(_sum(s.get("growth") or {}, "herald_queue_messages", {"queue": "dead_letter"})
               or 0.0, float(s.get("growthSeconds") or 0.0)) for s in _of(snapshots, "consumer")]
    growth_per_minute = None
    if growth:
        moved, seconds = max(growth, key=lambda g: g[1])
        growth_per_minute = round(moved * 60 / seconds, 2) if seconds > 0 else 0.0
    gateways = sorted(_of(snapshots, "ws_gateway"), key=lambda s: str(s.get("replica")))
    replicas = sorted(
        ({"service": s.get("service"), "replica": s.get("replica"),
          "ageSeconds": round(max(0, now_ms - int(s.get("at") or 0)) / 1000, 1)}
         for s in snapshots),
        key=lambda r: (str(r["service"]), str(r["replica"])))
    return {
        "at": now_ms,
        "flows": flows,
        "levels": {**levels, "deadLetterGrowthPerMinute": growth_per_minute},
        "gateways": [{"replica": s.get("replica"),
                      "connections": int(_sum(s.get("values") or {},
                                              "herald_gateway_connections", {}) or 0)}
                     for s in gateways],
        "latency": _latency(gateways),
        "replicas": replicas,
    }
