"""The console's pure parts: a process's snapshot (rates, recent buckets, growth), the Live
page's aggregation over replicas, the histogram quantile, and the trace buffer's bound."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from common.telemetry import trace as trace_module
from common.telemetry.snapshot import Sampler, parse_key, read_registry, sample_key
from common.telemetry.trace import Tracer, event_id_of
from producer.admin.console.live import aggregate, histogram_quantile

pytestmark = pytest.mark.unit


def test_sample_keys_round_trip() -> None:
    key = sample_key("herald_queue_messages", {"queue": "notify", "a": "b"})
    assert key == "herald_queue_messages{a=b,queue=notify}"
    assert parse_key(key) == ("herald_queue_messages", {"a": "b", "queue": "notify"})
    assert parse_key("herald_expired_total") == ("herald_expired_total", {})


def test_a_snapshot_has_rates_recent_buckets_and_gauge_growth() -> None:
    registry = CollectorRegistry()
    sent = Counter("herald_sent_total", "x", ["path"], registry=registry)
    depth = Gauge("herald_depth", "x", registry=registry)
    latency = Histogram("herald_latency_seconds", "x", buckets=(0.01, 0.1), registry=registry)
    Counter("other_total", "not Herald's", registry=registry).inc()
    sampler = Sampler()

    first = sampler.snapshot(100.0, *read_registry(registry))
    assert first["rates"] == {}
    assert first["recent"] == {}
    assert first["growth"] == {}
    assert not any(k.startswith("other") for k in first["values"])
    sent.labels("live").inc(10)
    depth.set(7)
    latency.observe(0.005)
    latency.observe(0.05)
    second = sampler.snapshot(102.0, *read_registry(registry))
    assert second["rates"]["herald_sent_total{path=live}"] == 5.0
    assert second["rates"]["herald_latency_seconds_count"] == 1.0
    assert not any("_bucket" in k for k in second["rates"])
    assert second["recent"]["herald_latency_seconds_bucket{le=0.01}"] == 1
    assert second["recent"]["herald_latency_seconds_bucket{le=+Inf}"] == 2
    assert second["growth"] == {"herald_depth": 7.0}
    # Past the recent window, old observations no longer count.
    third = sampler.snapshot(113.0, *read_registry(registry))
    assert third["recent"] == {}
    assert third["rates"] == {}


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.01)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.055)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.91)
    assert histogram_quantile(0.99, {0.1: 0.0, math.inf: 5.0}) == 0.1
    assert histogram_quantile(0.5, {}) is None
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None


def snap(service: str, replica: str, **parts: Any) -> dict[str, Any]:
    return {"service": service, "replica": replica, "at": 1000, "values": {}, "rates": {},
            "recent": {}, "growth": {}, "growthSeconds": 60, **parts}


def test_aggregate_sums_flows_takes_the_largest_level_and_lists_gateways() -> None:
    snapshots = [
        snap("producer", "p1", rates={"herald_events_published_total{type=LIKE}": 3.0,
                                      "herald_events_published_total{type=FOLLOW}": 1.0}),
        snap("producer", "p2", rates={"herald_events_published_total{type=LIKE}": 2.0,
                                      "herald_publish_failures_total{reason=blocked}": 1.5}),
        snap("consumer", "c1", values={"herald_queue_messages{queue=notify}": 5,
                                       "herald_queue_messages{queue=dead_letter}": 2},
             rates={"herald_notifications_total{outcome=buffered}": 4.0,
                    "herald_notifications_total{outcome=duplicate}": 9.0},
             growth={"herald_queue_messages{queue=dead_letter}": 2}),
        snap("consumer", "c2", values={"herald_queue_messages{queue=notify}": 7,
                                       "herald_queue_messages{queue=dead_letter}": 2,
                                       "herald_consumer_holding": 1}),
        snap("ws_gateway", "g2", values={"herald_gateway_connections": 4},
             recent={"herald_delivery_latency_seconds_bucket{le=0.01}": 10,
                     "herald_delivery_latency_seconds_bucket{le=+Inf}": 10}),
        snap("ws_gateway", "g1", values={"herald_gateway_connections": 1},
             rates={"herald_gateway_acks_total": 2.5}),
    ]
    figures = aggregate(snapshots, 3000)
    assert figures["flows"] == {"accepted": 6.0, "buffered": 4.0, "delivered": 0.0,
                                "acked": 2.5, "expired": None, "refused": 1.5}
    assert figures["levels"]["consumerHolding"] == 1
    assert figures["levels"]["notifyQueue"] == 7
    assert figures["levels"]["deadLetters"] == 2
    assert figures["levels"]["deadLetterGrowthPerMinute"] == 2.0
    assert figures["levels"]["persistLag"] is None
    assert figures["gateways"] == [{"replica": "g1", "connections": 1},
                                   {"replica": "g2", "connections": 4}]
    assert figures["latency"]["samples"] == 10
    assert 0 < figures["latency"]["p50"] <= 0.01
    assert figures["replicas"][0] == {"service": "consumer", "replica": "c1",
                                      "ageSeconds": 2.0}
    empty = aggregate([], 0)
    assert set(empty["flows"].values()) == {None}
    assert empty["gateways"] == []


def test_event_ids_are_read_from_a_notification_without_parsing_it() -> None:
    assert event_id_of('{"id":"n1","eventId":"ev-1.x@y","userId":"bob"}') == "ev-1.x@y"
    assert event_id_of('{"id":"n1"}') is None


async def test_the_trace_buffer_is_bounded_and_counts_what_it_drops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trace_module, "MAX_BUFFERED", 3)
    tracer = Tracer()
    tracer.mark("ev", "accepted")  # not started: nothing kept
    assert not tracer.enabled
    assert len(tracer._buffer) == 0
    tracer._redis = object()  # type: ignore[assignment]  # as if started, never flushed
    before = trace_module.DROPPED._value.get()
    for n in range(5):
        tracer.mark(f"ev-{n}", "accepted")
    assert len(tracer._buffer) == 3
    assert trace_module.DROPPED._value.get() - before == 2


async def test_marks_are_dropped_and_counted_when_redis_does_not_take_them() -> None:
    from redis.asyncio import Redis

    from common.naming import Names
    from tests.support.processes import free_port

    nobody = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    tracer = Tracer()
    tracer.start(nobody, Names("nowhere"), 60, "producer", "test-1")
    try:
        before = trace_module.DROPPED._value.get()
        for n in range(3):
            tracer.mark(f"ev-{n}", "accepted")
        assert await tracer.flush() == 0
        assert trace_module.DROPPED._value.get() - before == 3
        assert len(tracer._buffer) == 0  # nothing kept to retry: memory stays bounded
    finally:
        await tracer.close()
        await nobody.aclose()
