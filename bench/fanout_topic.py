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
* **the connected subscribers' delivery**: before the event, ``--connected`` of the
  subscribers (the first ones; default 10,000, at most ``--subscribers``) connect to the one
  gateway as apps would (WebSocket, AUTH with a JWT, then ACK every notification as it
  arrives; :mod:`bench.clients`); each one's latency is from the event's confirmed publish
  to its ``NOTIFICATION`` frame read: p50, p99, max, and how many arrived (those not in
  within ``DELIVERY_WAIT_S`` after the fan-out is done are counted missing);
* **peak RSS** of the consumer and the gateway (:class:`bench.procstat.ProcSampler`, over
  the fan-out, with the clients connected), and the gateway's settled RSS once they are
  connected, before the event.

The clients, the probes and the fan-out's bookkeeping share the load tool's one event loop:
its worst lag while the fan-out ran (a 50 ms ticker's overshoot) is reported beside the
latencies (``load_tool_loop_lag_max_ms``), since a busy load tool delays what it reads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.clients import close_all, open_one
from bench.http import get
from bench.idle import settled_rss
from bench.procstat import ProcSampler, broker_pids
from bench.results import percentiles
from bench.seed import PROTOCOLS
from bench.stack import RABBITMQ_URL, REDIS_URL, Stack
from common.buffer.fanout import FanoutLedger
from common.models import Event, EventType
from common.store.sqlite import SqliteStore
from common.topology import declare_topology

__all__ = ["run_fanout_topic"]

DELIVERY_LIMIT = 20
TOPIC = "followers:bench"
DELIVERY_WAIT_S = 60.0
"""After the fan-out is done, the longest wait for the connected clients' notifications."""


class Delivered:
    """What the connected clients saw of the topic event: first arrival per user, ACKs
    sent, frames of other notifications, closes."""

    def __init__(self, expected: int) -> None:
        self.event_id = ""
        self.at: dict[str, float] = {}
        self.acks = 0
        self.others = 0
        self.closes = 0
        self.expected = expected
        self.all_in = asyncio.Event()
        if expected == 0:
            self.all_in.set()


async def _read(ws: ClientConnection, user: str, seen: Delivered) -> None:
    """One app: read until the connection closes, ACK every notification as it arrives."""
    protocol = PROTOCOLS["herald"]
    try:
        async for data in ws:
            now = time.perf_counter()
            frame = orjson.loads(data)
            note = protocol.notification(frame)
            if note is None:
                continue
            nid = protocol.notification_id(note)
            if nid is not None:
                await ws.send(protocol.ack_frame([nid]))
                seen.acks += 1
            if note.get("eventId") != seen.event_id:
                seen.others += 1
            elif user not in seen.at:
                seen.at[user] = now
                if len(seen.at) >= seen.expected:
                    seen.all_in.set()
    except ConnectionClosed:
        pass
    seen.closes += 1


async def _connect(url: str, users: list[str], secret: str, parallel: int = 100,
                   within_s: float = 15.0) -> tuple[list[tuple[ClientConnection, str]], list[str]]:
    """One authenticated connection per user (``parallel`` handshakes at a time, each within
    ``within_s``): (connection, user) pairs, and the errors of those that failed."""
    gate = asyncio.Semaphore(parallel)
    errors: list[str] = []
    protocol = PROTOCOLS["herald"]

    async def one(user: str) -> tuple[ClientConnection, str] | None:
        async with gate:
            try:
                ws, _ = await open_one(url, protocol, user, secret, within_s)
                return ws, user
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return None

    opened = await asyncio.gather(*(one(u) for u in users))
    return [pair for pair in opened if pair is not None], errors


async def _gateway_latency(url: str) -> dict[str, Any]:
    """The gateway's own view of the same deliveries (``herald_delivery_latency_seconds``:
    the notification's ``createdAt`` to its frame written), without the load tool's reading:
    how many of its frames fell in each bucket, and the bucket bound under which half and
    99 % fell."""
    status, body = await get(url + "/metrics", 5.0)
    if status != 200:
        return {}
    buckets: list[tuple[float, float]] = []
    for line in body.decode().splitlines():
        if line.startswith("herald_delivery_latency_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0

    def under(q: float) -> str | None:
        for bound, count in buckets:
            if total and count >= q * total:
                return "+Inf" if bound == float("inf") else f"<= {bound * 1000:g}"
        return None

    return {"frames": int(total), "p50_ms": under(0.5), "p99_ms": under(0.99),
            "cumulative": {("+Inf" if b == float("inf") else f"{b * 1000:g}"): int(c)
                           for b, c in buckets}}


async def _ticker(lag: list[float], stop: asyncio.Event, within_s: float) -> None:
    """The load tool's own event-loop lag: how late a 50 ms sleep wakes up (until ``stop``,
    at most ``within_s``)."""
    deadline = time.perf_counter() + within_s
    while not stop.is_set() and time.perf_counter() < deadline:
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        lag.append(time.perf_counter() - started - 0.05)


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
    connected = max(0, min(opts.connected, count))
    run = secrets.token_hex(3)
    seen = Delivered(connected)
    clients: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    open_errors: list[str] = []
    open_s = 0.0
    lag: list[float] = []
    stop_ticker = asyncio.Event()
    async with Stack(FANOUT_PAGE_SIZE=str(opts.fanout_page)) as stack:
        subscribe_s = await _subscribe(stack.env["STORE_URL"], count)
        await asyncio.gather(
            stack.start("consumer"),
            stack.start("ws_gateway", MAX_CONNECTIONS=str(max(10_000, connected + 100))))
        gateway_pid = stack.services["ws_gateway"].pid
        redis = Redis.from_url(REDIS_URL)
        connection = await aio_pika.connect(RABBITMQ_URL)
        ledger = FanoutLedger(redis, stack.names.keys)
        try:
            channel = await connection.channel(publisher_confirms=True)
            topology = await declare_topology(channel, stack.names, DELIVERY_LIMIT)
            # A probe before the fan-out: the idle figure to compare with.
            idle = [await _probe(topology.events, redis, stack, run, -i) for i in range(1, 4)]
            gateway_rss_before = await settled_rss(gateway_pid)
            if connected:
                ws_url = stack.url("ws_gateway").replace("http://", "ws://") + "/ws"
                users = [f"u{n:07d}" for n in range(connected)]
                opened_at = time.perf_counter()
                pairs, open_errors = await _connect(ws_url, users, stack.secret)
                open_s = time.perf_counter() - opened_at
                clients = [ws for ws, _ in pairs]
                readers = [asyncio.create_task(_read(ws, user, seen)) for ws, user in pairs]
            gateway_rss_connected = await settled_rss(gateway_pid)
            ticker = asyncio.create_task(
                _ticker(lag, stop_ticker, max(120.0, count / 500) + DELIVERY_WAIT_S + 10))
            pids = {**broker_pids(), **stack.pids(), "load-tool": os.getpid()}
            async with ProcSampler(pids) as sampler:
                now = datetime.now(UTC)
                event = Event(eventId=f"{run}-topic", type=EventType.SYSTEM, actorId="bench",
                              recipients=[], topic=TOPIC, text="one to all",
                              occurredAt=now, acceptedAt=now)
                seen.event_id = event.eventId
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(seen.all_in.wait(), DELIVERY_WAIT_S)
            stop_ticker.set()
            await ticker
            await asyncio.sleep(0.3)  # the last ACKs reach the gateway
            record = await ledger.get("default", event.eventId)
            indexed = int(await redis.zcard(stack.names.keys.expiry_index))
            gateway_view = await _gateway_latency(stack.url("ws_gateway"))
        finally:
            stop_ticker.set()
            alive = sum(1 for ws in clients if ws.close_code is None)
            await close_all(clients)
            if readers:
                _, stuck = await asyncio.wait(readers, timeout=20)
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
            await connection.close()
            await redis.aclose()
    assert record is not None, "the fan-out was never recorded"
    consumer_s = ((record.finished_ms or 0) - record.started_ms) / 1000
    procs = sampler.report()["processes"]
    latency = percentiles(at - started for at in seen.at.values())
    result: dict[str, Any] = {
        "scenario": "fanout_topic", "protocol": "herald",
        "params": {"subscribers": count, "connected": connected, "page": opts.fanout_page,
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
        "connected": {
            "clients": connected, "opened": len(clients), "open_errors": len(open_errors),
            "open_error_sample": open_errors[:3], "open_s": round(open_s, 2),
            "delivered": len(seen.at), "missing": connected - len(seen.at),
            "acks_sent": seen.acks, "other_notifications": seen.others,
            "alive_at_end": alive,
            "all_delivered_s": (round(max(seen.at.values()) - started, 2)
                                if seen.at and len(seen.at) >= connected else None),
            "delivery_latency_ms": latency,
            "gateway_side_latency": gateway_view,
        },
        "load_tool_loop_lag_max_ms": _ms(max(lag, default=0.0)),
        "gateway_rss_mib": {"before_clients": round(gateway_rss_before / 1024, 1),
                            "clients_connected": round(gateway_rss_connected / 1024, 1)},
        "procstat": sampler.report(),
        "peak_rss_mib": {name: p["peak_rss_mib"] for name, p in procs.items()},
    }
    result["headline"] = {
        "subscribers": count, "seconds_to_buffer_all": result["seconds_to_buffer_all"],
        "connected": connected, "delivered": len(seen.at),
        "connected_p50_ms": latency.get("p50"), "connected_p99_ms": latency.get("p99"),
        "one_recipient_p99_ms": result["one_recipient_during"]["p99_ms"],
        "consumer_peak_rss_mib": result["peak_rss_mib"].get("consumer"),
        "gateway_peak_rss_mib": result["peak_rss_mib"].get("ws_gateway"),
    }
    result["target"] = "a one-recipient event sent during the fan-out delivered within 1 s"
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
