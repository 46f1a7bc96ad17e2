"""Closed-loop ingest: ``C`` connections, each sending its next request as soon as the last
one is answered, for ``D`` seconds (after a warm-up) or ``N`` requests, whichever comes first.

``ingest`` posts single events (``POST /v1/events``, or ``POST /like`` in seed mode);
``batch`` posts ``POST /v1/events/batch`` bodies of ``B`` events. Only the producer is
started: the consumer would compete for the same two cores and is measured on its own
(``backlog``). The queue is counted afterwards: every ``202`` must be a message on it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import orjson

from bench.http import Connection, HttpError, split_url
from bench.procstat import ProcSampler
from bench.results import percentiles
from bench.seed import PROTOCOLS
from bench.stack import RABBITMQ_URL
from bench.target import Target, open_target

__all__ = ["run_batch", "run_ingest"]

Send = Callable[[int], Awaitable[tuple[int, bytes]]]


async def _closed_loop(make_send: Callable[[], Send], concurrency: int, warmup: float,
                       duration: float, max_requests: int,
                       count_ok: Callable[[int, bytes], int]) -> dict[str, Any]:
    counter = itertools.count()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    accepted = 0
    accepted_total = 0
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + duration

    async def worker() -> None:
        nonlocal accepted, accepted_total
        send = make_send()
        while (i := next(counter)) < max_requests and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                status, body = await send(i)
            except HttpError as exc:
                statuses[f"error {str(exc).split(':')[0]}"] += 1
                continue
            t1 = time.perf_counter()
            ok = count_ok(status, body)
            accepted_total += ok
            if t0 >= measure_from:
                latencies.append(t1 - t0)
                statuses[str(status)] += 1
                accepted += ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = max(time.perf_counter() - measure_from, 1e-9)
    return {"elapsed_s": round(elapsed, 2), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "accepted": accepted, "accepted_total": accepted_total,
            "accepted_per_s": round(accepted / elapsed, 1),
            "latency_ms": percentiles(latencies), "statuses": dict(statuses)}


def _raw_sender(url: str, path: str, body_of: Callable[[int], bytes],
                headers: dict[str, str]) -> Callable[[], Send]:
    host, port = split_url(url)

    def make() -> Send:
        connection = Connection(host, port, headers=headers)

        async def send(i: int) -> tuple[int, bytes]:
            return await connection.request("POST", path, body_of(i))
        return send
    return make


def _httpx_sender(client: Any, url: str, path: str, body_of: Callable[[int], bytes],
                  headers: dict[str, str]) -> Callable[[], Send]:
    import httpx

    def make() -> Send:
        async def send(i: int) -> tuple[int, bytes]:
            try:
                response = await client.post(url + path, content=body_of(i),
                                             headers={"content-type": "application/json",
                                                      **headers})
            except httpx.HTTPError as exc:
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            return response.status_code, response.content
        return send
    return make


async def _queue_depth(target: Target) -> int | None:
    if target.stack is None:
        return None
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(target.stack.names.notify_queue, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def _run(opts: argparse.Namespace, scenario: str, path: str,
               body_of: Callable[[int], bytes], count_ok: Callable[[int, bytes], int],
               events_per_request: int) -> dict[str, Any]:
    async with open_target(opts, ("producer",)) as target:
        assert target.producer_url is not None, "--producer-url is needed"
        client = None
        if opts.client == "httpx":
            import httpx
            client = httpx.AsyncClient(limits=httpx.Limits(
                max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency))
            make = _httpx_sender(client, target.producer_url, path, body_of,
                                 target.key_headers())
        else:
            make = _raw_sender(target.producer_url, path, body_of, target.key_headers())
        try:
            async with ProcSampler(target.pids()) as sampler:
                loop = await _closed_loop(make, opts.concurrency, opts.warmup, opts.duration,
                                          opts.max_requests, count_ok)
        finally:
            if client is not None:
                await client.aclose()
        queued = await _queue_depth(target)
    loop["queued_after"] = queued
    if queued is not None and queued != loop["accepted_total"]:
        loop["warning"] = f"{loop['accepted_total']} accepted but {queued} on the queue"
    rate_key = "events_per_s" if events_per_request > 1 else "accepted_per_s"
    loop["events_per_s"] = loop["accepted_per_s"]
    headline: dict[str, Any] = {rate_key: loop["accepted_per_s"]}
    if events_per_request == 1:
        headline["p99_ms"] = loop["latency_ms"].get("p99")
    else:
        headline["req_p99_ms"] = loop["latency_ms"].get("p99")
    return {"scenario": scenario, "protocol": target.protocol.name,
            "params": {"concurrency": opts.concurrency, "duration": opts.duration,
                       "warmup": opts.warmup, "client": opts.client,
                       "batch_size": events_per_request},
            "headline": headline, **loop, "procstat": sampler.report()}


async def run_ingest(opts: argparse.Namespace) -> dict[str, Any]:
    """Single events, closed loop."""
    protocol = PROTOCOLS[opts.protocol]
    run = secrets.token_hex(3)

    def body_of(i: int) -> bytes:
        return protocol.event_body(f"b{run}-{i}", f"a{i % 997}", f"u{i % 1000}")

    def count_ok(status: int, body: bytes) -> int:
        return 1 if status in protocol.ok_statuses else 0

    result = await _run(opts, "ingest", protocol.event_path, body_of, count_ok, 1)
    result["target"] = "≥ 5,000 events/s, p99 ≤ 25 ms (50 connections)"
    return result


async def run_batch(opts: argparse.Namespace) -> dict[str, Any]:
    """``POST /v1/events/batch`` of ``--batch-size`` events, closed loop (Herald only)."""
    protocol = PROTOCOLS[opts.protocol]
    if not protocol.has_batch:
        raise SystemExit("the seed's surface has no batch endpoint")
    run = secrets.token_hex(3)
    size = opts.batch_size

    def body_of(i: int) -> bytes:
        return protocol.batch_body([(f"b{run}-{i}-{j}", f"a{j % 997}", f"u{(i + j) % 1000}")
                                    for j in range(size)])

    def count_ok(status: int, body: bytes) -> int:
        if status not in (202, 207):
            return 0
        return int(orjson.loads(body).get("accepted", 0))

    result = await _run(opts, "batch", "/v1/events/batch", body_of, count_ok, size)
    result["target"] = "≥ 12,000 events/s"
    return result
