"""``trace``: what the console's trace marks cost per event, on the producer's, consumer's,
gateway's and persister's hot paths.

Each round marks 1,000 events twice (``consumed`` and ``buffered``, as the consumer
does for each event) in a :class:`~common.telemetry.trace.Tracer` on the local Redis,
then flushes them (what the tracer's background task does every 200 ms); the CPU time of this
process per event, for marking and for flushing, is the median of ten rounds (the first, which
loads the script, left out). The Redis server's CPU is sampled alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from bench.procstat import ProcSampler, broker_pids
from bench.stack import REDIS_URL
from common.naming import Names
from common.redis_pool import open_redis
from common.telemetry.trace import Tracer

__all__ = ["run_trace"]

ROUNDS = 10
EVENTS_PER_FLUSH = 1000
"""A flush's worth at 5,000 events/s (the tracer flushes every 200 ms)."""


async def run_trace(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit("trace: measures the tracer on this machine's Redis")
    names = Names(f"bench-trace-{time.time_ns()}")
    redis = open_redis(REDIS_URL, max_connections=4)
    tracer = Tracer()
    # Its background flush finds the buffer empty: each round marks without awaiting and its
    # own flush takes every mark before it awaits.
    tracer.start(redis, names, 60, "consumer", "bench")
    marking: list[float] = []
    flushing: list[float] = []
    sampler = ProcSampler({"load-tool": os.getpid(), **{
        name: pid for name, pid in broker_pids().items() if name.startswith("redis")}})
    try:
        async with sampler:
            await _rounds(tracer, EVENTS_PER_FLUSH, marking, flushing)
    finally:
        await tracer.close()
        keys = [k async for k in redis.scan_iter(match=f"{names.prefix}:*", count=5000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start:start + 1000])
        await redis.aclose()
    mark_us, flush_us = statistics.median(marking[1:]), statistics.median(flushing[1:])
    return {"scenario": "trace", "params": {"events": EVENTS_PER_FLUSH, "rounds": ROUNDS},
            "headline": {"mark_us_per_event": round(mark_us, 2),
                         "flush_us_per_event": round(flush_us, 2)},
            "target": "a few µs per event (it is paid on every service's hot path)",
            "each_round_flush_us": [round(x, 2) for x in flushing],
            "procstat": sampler.report()}


async def _rounds(tracer: Tracer, events: int, marking: list[float],
                  flushing: list[float]) -> None:
    for rnd in range(ROUNDS):
        started = time.process_time()
        for n in range(events):
            event_id = f"e{rnd}-{n}"
            tracer.mark(event_id, "consumed", None)
            tracer.mark(event_id, "buffered", None, notifications=1)
        marked = time.process_time()
        written = await tracer.flush()
        flushed = time.process_time()
        assert written == 2 * events, written
        marking.append((marked - started) / events * 1e6)
        flushing.append((flushed - marked) / events * 1e6)
