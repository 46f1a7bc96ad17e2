"""``publish``: the producer's publish path alone, without HTTP — the ceiling of ingest.

The load tool itself publishes through Herald's :class:`producer.ingest.publisher.Publisher`
(``publish_many``: persistent messages, publisher confirms, the same frames the producer
sends) with ``--concurrency`` batches of ``--batch-size`` in flight, for ``--duration``
seconds after ``--warmup``. What it reaches, and the load tool's CPU per event (it *is* the
producer here), bound what the producer's HTTP routes can do on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from bench.procstat import ProcSampler
from bench.stack import RABBITMQ_URL
from bench.target import open_target
from common.logs import configure_logging
from common.models import Event, EventType
from producer.ingest.publisher import Publisher

__all__ = ["run_publish"]

DELIVERY_LIMIT = 20  # as the services declare the queue


async def run_publish(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit("publish: measures Herald's publish path on this machine")
    async with open_target(opts, ()) as target:
        assert target.stack is not None
        configure_logging("bench", "warning")  # the publisher's own logs stay off stdout
        publisher = Publisher(RABBITMQ_URL, target.stack.names, DELIVERY_LIMIT, 10.0)
        await publisher.start()
        run, now = secrets.token_hex(3), datetime.now(UTC)
        counts = {"confirmed": 0, "failed": 0}
        measuring = False
        deadline = time.perf_counter() + opts.warmup + opts.duration

        async def loop(worker: int) -> None:
            n = 0
            while time.perf_counter() < deadline:
                events = [Event.model_construct(
                    eventId=f"b{run}-{worker}-{n + i}", tenantId="default", type=EventType.LIKE,
                    actorId=f"a{(n + i) % 997}", recipients=[f"u{(n + i) % 1000}"],
                    postId="p1", commentId=None, text=None, occurredAt=now, acceptedAt=now,
                ) for i in range(opts.batch_size)]
                n += opts.batch_size
                failures = await publisher.publish_many(events)
                if measuring:
                    failed = sum(1 for f in failures if f is not None)
                    counts["failed"] += failed
                    counts["confirmed"] += len(events) - failed

        try:
            workers = [asyncio.create_task(loop(w)) for w in range(opts.concurrency)]
            await asyncio.sleep(opts.warmup)
            measuring, started = True, time.perf_counter()
            async with ProcSampler(target.pids()) as sampler:
                await asyncio.gather(*workers)
            elapsed = time.perf_counter() - started
        finally:
            await publisher.close()
    report = sampler.report()
    rate = counts["confirmed"] / elapsed
    tool_cpu = report["processes"].get("load-tool", {}).get("cpu_percent", 0.0)
    return {"scenario": "publish", "protocol": "herald",
            "params": {"concurrency": opts.concurrency, "batch_size": opts.batch_size,
                       "duration": opts.duration},
            **counts, "elapsed_s": round(elapsed, 2), "confirmed_per_s": round(rate, 1),
            "publisher_cpu_us_per_event": round(tool_cpu / 100 / max(rate, 1e-9) * 1e6, 1),
            "headline": {"confirmed/s": round(rate, 1), "failed": counts["failed"]},
            "target": "none: the ceiling of the batch row (its publishing without HTTP)",
            "procstat": report}
