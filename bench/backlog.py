"""Drain a backlog: how fast one consumer or one persister works through a full input.

* ``consumer``: ``--events`` LIKE events (one recipient each) are published straight to the
  events exchange with confirms, as the producer would, while no consumer runs; then one
  consumer starts and the clock runs from the first event it handled to the last
  (``herald_consumer_events_total``). Afterwards Redis must hold one pending notification
  per event (the expiry index is counted).
* ``persister``: ``--entries`` acked notifications are added to the persist stream, as the
  gateway would on ACKs; then one persister starts and the clock runs from the first entry
  stored to the last (``herald_persisted_total``), into SQLite in a temporary directory.

Both poll ``/metrics`` every 0.1 s, so rates are exact to about that.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import orjson
from redis.asyncio import Redis

from bench.http import HttpError
from bench.procstat import ProcSampler
from bench.stack import RABBITMQ_URL, REDIS_URL
from bench.target import Target, counter_sum, open_target
from common.buffer.formats import encode_entry
from common.models import Event, EventType
from common.records import Status
from common.topology import declare_topology

__all__ = ["run_consumer", "run_persister"]

DELIVERY_LIMIT = 20  # the services' default DELIVERY_LIMIT: the queue must be declared alike


async def _fill_queue(target: Target, count: int, window: int = 1000) -> float:
    """Publish ``count`` events with confirms, ``window`` in flight; seconds taken."""
    assert target.stack is not None
    names = target.stack.names
    run = secrets.token_hex(3)
    now = datetime.now(UTC)
    connection = await aio_pika.connect(RABBITMQ_URL)
    started = time.perf_counter()
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare_topology(channel, names, DELIVERY_LIMIT)
        for start in range(0, count, window):
            messages = []
            for i in range(start, min(start + window, count)):
                event = Event(eventId=f"q{run}-{i}", type=EventType.LIKE, actorId=f"a{i % 997}",
                              recipients=[f"u{i % 1000}"], postId=f"q{run}-{i}",
                              occurredAt=now, acceptedAt=now)
                messages.append(topology.events.publish(
                    aio_pika.Message(event.model_dump_json().encode(),
                                     content_type="application/json",
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                     message_id=event.eventId,
                                     headers={"x-herald-tenant": "default",
                                              "x-herald-type": "LIKE"}),
                    routing_key="event.like"))
            await asyncio.gather(*messages)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def _fill_stream(target: Target, count: int, chunk: int = 2000) -> float:
    assert target.stack is not None
    names = target.stack.names
    created = datetime.now(UTC)
    stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expires = (created + timedelta(days=1)).isoformat(timespec="milliseconds")
    at_ms = int(created.timestamp() * 1000)
    redis = Redis.from_url(REDIS_URL)
    started = time.perf_counter()
    try:
        for start in range(0, count, chunk):
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(start, min(start + chunk, count)):
                    body = orjson.dumps({
                        "id": str(uuid.uuid4()), "tenantId": "default", "userId": f"u{i % 1000}",
                        "type": "LIKE", "actorId": f"a{i % 997}", "eventId": f"s{i}",
                        "postId": f"p{i}", "message": "a liked your post",
                        "priority": "promotional", "createdAt": stamp,
                        "expiresAt": expires.replace("+00:00", "Z")})
                    pipe.xadd(names.keys.persist_stream_of("default", f"u{i % 1000}"),
                              encode_entry(body, Status.ACKED, at_ms))  # type: ignore[arg-type]
                await pipe.execute()
    finally:
        await redis.aclose()
    return time.perf_counter() - started


async def _drain(count_of: Callable[[], Awaitable[float]], total: int,
                 within_s: float) -> dict[str, Any]:
    """Poll (from the service's spawn, while it may not answer yet) until ``total``.

    ``rate_per_s`` is the slope between the first and the last sample taken while work was
    in progress (0 < done < total), so start-up and the tail are left out; when the backlog
    went by too fast for two such samples, it is ``done`` over the time from the service's
    first answer to the end (a lower bound).
    """
    started = time.perf_counter()
    deadline = started + within_s
    answered: float | None = None
    busy: list[tuple[float, float]] = []
    done = 0.0
    now = started
    while now < deadline:
        try:
            done = await count_of()
        except (HttpError, RuntimeError):
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            continue
        now = time.perf_counter()
        answered = answered or now
        if done >= total:
            break
        if done > 0:
            busy.append((now, done))
        await asyncio.sleep(0.1)
    result: dict[str, Any] = {"done": int(done), "from_spawn_s": round(now - started, 2)}
    if len(busy) >= 2 and busy[-1][0] - busy[0][0] >= 0.5:
        (t0, c0), (t1, c1) = busy[0], busy[-1]
        result["rate_per_s"] = round((c1 - c0) / (t1 - t0), 1)
        result["rate_basis"] = f"slope over {t1 - t0:.1f} s while busy"
    elif answered is not None and done:
        result["rate_per_s"] = round(done / max(now - answered, 1e-9), 1)
        result["rate_basis"] = "lower bound: too fast to sample while busy"
    else:
        result["rate_per_s"] = None
        result["rate_basis"] = "nothing done"
    return result


async def _run_backlog(opts: argparse.Namespace, module: str, total: int,
                       fill: Callable[[Target, int], Awaitable[float]], counter: str,
                       per_s_floor: float) -> tuple[float, dict[str, Any], dict[str, Any], int]:
    """Fill the backlog, start ``module`` and time its drain by ``counter``; also returns
    the expiry index's size (what the consumer buffered) before the stack is cleaned up."""
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit(f"{module}: measures Herald's own {module}; it starts its own")
    async with open_target(opts, ()) as target:
        assert target.stack is not None
        fill_s = await fill(target, total)
        service = await target.stack.start(module, wait=False)
        async with ProcSampler(target.pids()) as sampler:
            drained = await _drain(lambda: counter_sum(service.url, counter), total,
                                   within_s=max(60.0, total / per_s_floor))
        redis = Redis.from_url(REDIS_URL)
        try:
            indexed = int(await redis.zcard(target.stack.names.keys.expiry_index))
        finally:
            await redis.aclose()
    return fill_s, drained, sampler.report(), indexed


async def run_consumer(opts: argparse.Namespace) -> dict[str, Any]:
    fill_s, drained, procstat, buffered = await _run_backlog(
        opts, "consumer", opts.events, _fill_queue, "herald_consumer_events_total", 500)
    return {"scenario": "consumer", "protocol": "herald",
            "params": {"events": opts.events},
            "fill_s": round(fill_s, 2), **drained, "buffered_in_redis": buffered,
            "headline": {"events/s": drained["rate_per_s"], "buffered": buffered},
            "target": "≥ 8,000 events/s from a pre-filled queue (one process)",
            "procstat": procstat}


async def run_persister(opts: argparse.Namespace) -> dict[str, Any]:
    fill_s, drained, procstat, _ = await _run_backlog(
        opts, "persister", opts.entries, _fill_stream, "herald_persisted_total", 1000)
    return {"scenario": "persister", "protocol": "herald",
            "params": {"entries": opts.entries, "store": "sqlite"},
            "fill_s": round(fill_s, 2), **drained,
            "headline": {"notifications/s": drained["rate_per_s"], "stored": drained["done"]},
            "target": "≥ 30,000 notifications/s into SQLite",
            "procstat": procstat}
