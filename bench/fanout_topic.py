"""``fanout_topic``: one topic event to ``--subscribers`` users (issue 20), and a
one-recipient event's latency meanwhile.

``--subscribers`` users are subscribed to one topic in the store (SQLite, straight into the
run's file, before the consumer starts); the consumer and a gateway start; one topic event
is published to the events exchange as the producer would (confirmed). Measured:

* **seconds to buffer all**: from the event's publish until the fan-out's state is ``done``
  (``GET /v1/fanouts`` reads the same Redis record); the expiry index must then hold one
  notification per subscriber (and per probe);
* **one-recipient latency meanwhile**: every ``--probe-interval`` seconds while the fan-out
  runs, a one-recipient event to a user of its own; the time from its confirmed publish to
  its notification on the user's live channel (what a gateway is signalled with): p50, p99,
  max, and how many were sent;
* **peak RSS** of the consumer and the gateway (:class:`bench.procstat.ProcSampler`).

Not measured yet: WebSocket clients of the subscribers connected to the gateway and their
delivery p50/p99 (the gateway's RSS is then its idle figure).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import orjson
from redis.asyncio import Redis

from bench.procstat import ProcSampler
from bench.stack import RABBITMQ_URL, REDIS_URL, Stack
from common.buffer.fanout import FanoutLedger
from common.models import Event, EventType
from common.store.sqlite import SqliteStore
from common.topology import declare_topology

__all__ = ["run_fanout_topic"]

DELIVERY_LIMIT = 20
TOPIC = "followers:bench"


async def _subscribe(store_url: str, count: int) -> float:
    started = time.perf_counter()
    store = await SqliteStore.open(store_url.removeprefix("sqlite:///"))
    try:
        users = [f"u{n:07d}" for n in range(count)]
        at = datetime.now(UTC) - timedelta(seconds=1)
        for start in range(0, count, 10_000):
            await store.subscribe("default", TOPIC, users[start:start + 10_000], at)
    finally:
        await store.close()
    return time.perf_counter() - started


def _message(event: Event) -> aio_pika.Message:
    return aio_pika.Message(event.model_dump_json().encode(), content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=event.eventId)


async def _probe(exchange: aio_pika.abc.AbstractExchange, redis: Redis, stack: Stack,
                 run: str, n: int) -> float:
    """One one-recipient event, confirmed; seconds until its live-channel signal."""
    user = f"probe{n}"
    pubsub = redis.pubsub()
    await pubsub.subscribe(stack.names.keys.live_channel("default", user))
    try:
        now = datetime.now(UTC)
        event = Event(eventId=f"{run}-probe-{n}", type=EventType.SYSTEM, actorId="bench",
                      recipients=[user], text="probe", occurredAt=now, acceptedAt=now)
        started = time.perf_counter()
        await exchange.publish(_message(event), routing_key="event.system")
        deadline = started + 30
        while time.perf_counter() < deadline:
            got = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if got is not None and orjson.loads(got["data"])["eventId"] == event.eventId:
                return time.perf_counter() - started
        raise RuntimeError(f"probe {n} not signalled within 30 s")
    finally:
        await pubsub.aclose()


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_fanout_topic(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit("fanout_topic: measures Herald's own consumer; it starts its own")
    count = opts.subscribers
    run = secrets.token_hex(3)
    async with Stack(FANOUT_PAGE_SIZE=str(opts.fanout_page)) as stack:
        subscribe_s = await _subscribe(stack.env["STORE_URL"], count)
        await asyncio.gather(stack.start("consumer"), stack.start("ws_gateway"))
        redis = Redis.from_url(REDIS_URL)
        connection = await aio_pika.connect(RABBITMQ_URL)
        ledger = FanoutLedger(redis, stack.names.keys)
        try:
            channel = await connection.channel(publisher_confirms=True)
            topology = await declare_topology(channel, stack.names, DELIVERY_LIMIT)
            # A probe before the fan-out: the idle figure to compare with.
            idle = [await _probe(topology.events, redis, stack, run, -i) for i in range(1, 4)]
            async with ProcSampler(stack.pids()) as sampler:
                now = datetime.now(UTC)
                event = Event(eventId=f"{run}-topic", type=EventType.SYSTEM, actorId="bench",
                              recipients=[], topic=TOPIC, text="one to all",
                              occurredAt=now, acceptedAt=now)
                started = time.perf_counter()
                await topology.events.publish(_message(event), routing_key="event.system")
                latencies: list[float] = []
                state = "running"
                n = 0
                deadline = started + max(120.0, count / 500)
                while time.perf_counter() < deadline:
                    record = await ledger.get("default", event.eventId)
                    state = record.state if record is not None else "not started"
                    if state in ("done", "cancelled"):
                        break
                    n += 1
                    latencies.append(await _probe(topology.events, redis, stack, run, n))
                    await asyncio.sleep(opts.probe_interval)
                buffered_s = time.perf_counter() - started
            record = await ledger.get("default", event.eventId)
            indexed = int(await redis.zcard(stack.names.keys.expiry_index))
        finally:
            await connection.close()
            await redis.aclose()
    assert record is not None, "the fan-out was never recorded"
    consumer_s = ((record.finished_ms or 0) - record.started_ms) / 1000
    procs = sampler.report()["processes"]
    result: dict[str, Any] = {
        "scenario": "fanout_topic", "protocol": "herald",
        "params": {"subscribers": count, "page": opts.fanout_page,
                   "probe_interval_s": opts.probe_interval},
        "subscribe_s": round(subscribe_s, 2),
        "state": record.state, "fanout": record.counts,
        "seconds_to_buffer_all": round(buffered_s, 2),
        "consumer_started_to_done_s": round(consumer_s, 2),
        "notifications_per_s": round(count / consumer_s, 1) if consumer_s > 0 else None,
        "buffered_in_redis": indexed,
        "one_recipient_during": {
            "sent": len(latencies),
            "p50_ms": _ms(statistics.median(latencies) if latencies else None),
            "p99_ms": _ms(_quantile(latencies, 0.99)), "max_ms": _ms(max(latencies, default=0)),
        },
        "one_recipient_idle_p50_ms": _ms(statistics.median(idle)),
        "procstat": sampler.report(),
        "peak_rss_mib": {name: p["peak_rss_mib"] for name, p in procs.items()},
    }
    result["headline"] = {
        "subscribers": count, "seconds_to_buffer_all": result["seconds_to_buffer_all"],
        "one_recipient_p99_ms": result["one_recipient_during"]["p99_ms"],
        "consumer_peak_rss_mib": result["peak_rss_mib"].get("consumer"),
    }
    result["target"] = "a one-recipient event sent during the fan-out delivered within 1 s"
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
