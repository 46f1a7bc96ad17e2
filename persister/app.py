"""Wiring of the persister: Redis, the store, one stream worker per buffer shard, the sweeper,
housekeeping and the probes, and the drain on SIGTERM.

Start: the probes come up first (``/healthz`` answers at once); the store is opened with
retries, so a persister started before its database is merely unready (``/readyz`` 503) until
the store answers. Stop (SIGTERM/SIGINT): the worker finishes the batch in hand (or hands it
back, unacked, after a few failed attempts), the sweeper its round, within
``SHUTDOWN_TIMEOUT_SECONDS``; then the process exits 0. If a loop dies of a bug, the process
logs it and exits 1, so that its supervisor restarts it rather than leaving a live-looking
process that does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from common.buffer.erasure import ErasureIndex
from common.buffer.expiry import ExpiryQueue
from common.buffer.stream import PersistStream, consumer_name
from common.health import ProbeServer, Readiness
from common.logs import get_logger
from common.models import utc_now
from common.redis_pool import open_redis
from common.redis_watch import RedisMemoryWatch
from common.retry import REDIS_ERRORS, GaveUp, Retrier, pause
from common.service import stop_on_signals
from common.store import Store, open_store
from common.telemetry import Tracer, start_telemetry
from persister.metrics import (
    BUFFERED,
    PRUNED,
    STREAM_ENTRIES,
    STREAM_LAG,
    STREAM_PENDING,
    count_retry,
)
from persister.settings import PersisterSettings
from persister.sweeper import Sweeper
from persister.worker import Worker

__all__ = ["serve"]

log = get_logger(__name__)

GAUGE_INTERVAL_SECONDS = 2.0  # how fresh the stream and buffer gauges on /metrics are


async def _every(
    stop: asyncio.Event, seconds: float, name: str, job: Callable[[], Awaitable[object]],
    errors: tuple[type[BaseException], ...],
) -> None:
    """Run ``job`` every ``seconds`` until ``stop``; a failure is logged and waits a turn."""
    while not stop.is_set():
        await pause(stop, seconds)
        if stop.is_set():
            return
        try:
            await job()
        except errors as exc:
            log.warning(f"{name} failed; next turn retries", error=repr(exc)[:500])


async def serve(settings: PersisterSettings) -> None:
    stop = stop_on_signals()
    consumer = consumer_name()
    # One blocking read per shard, plus the sweeper, the chores and the workers' writes.
    redis = open_redis(settings.redis_url, max_connections=16 + settings.herald_buffer_shards,
                       socket_timeout=settings.block_ms / 1000 + 5)
    memory = RedisMemoryWatch(redis, allow_eviction=settings.herald_redis_allow_eviction)
    await memory.check_at_start("persister")
    store: Store | None = None

    async def store_up() -> None:
        if store is None:
            raise ConnectionError("store not open yet")
        await store.ping()

    readiness = Readiness()
    readiness.add("redis", redis.ping)
    readiness.add("store", store_up)
    readiness.add("redis_memory", memory.ready)
    readiness.show("redisMemory", memory.describe)
    memory.start()
    probes = ProbeServer(readiness, settings.host, settings.port)
    await probes.start()

    retrier = Retrier(stop, settings.retry_max_seconds, on_retry=count_retry)
    try:
        store = await retrier.run("open_store", lambda: open_store(
            settings.store_url, retention_days=settings.store_retention_days))
    except GaveUp:
        await memory.stop()
        await redis.aclose()
        await probes.stop()
        return
    log.info("store open", backend=store.backend)
    tracer = Tracer()
    telemetry = start_telemetry(redis, settings, "persister", tracer)

    names = settings.names
    streams = [PersistStream(
        redis, names.keys, consumer, batch_size=settings.batch_size, block_ms=settings.block_ms,
        claim_idle_ms=int(settings.claim_idle_seconds * 1000), linger_ms=settings.linger_ms,
        shard=shard,
    ) for shard in range(names.shards)]
    workers = [Worker(stream, store, stop,
                      claim_interval_seconds=max(0.5, min(settings.claim_idle_seconds / 2, 10)),
                      retry_max_seconds=settings.retry_max_seconds,
                      erasures=ErasureIndex(redis, names.keys), tracer=tracer)
               for stream in streams]
    expiry = ExpiryQueue(redis, names.keys)
    sweeper = Sweeper(redis, settings.names.keys, consumer, stop,
                      interval_seconds=settings.sweep_interval_seconds,
                      batch=settings.sweep_batch, retry_max_seconds=settings.retry_max_seconds)
    opened = store

    async def prune() -> None:
        pruned = await opened.prune(utc_now())
        if pruned:
            PRUNED.inc(pruned)
            log.info("pruned stored notifications past retention", count=pruned)

    async def gauges() -> None:
        samples = [await stream.sample() for stream in streams]
        STREAM_ENTRIES.set(sum(s[0] for s in samples))
        STREAM_LAG.set(sum(s[1] for s in samples))
        STREAM_PENDING.set(sum(s[2] for s in samples))
        BUFFERED.set(await expiry.size())

    async def trim() -> None:
        for stream in streams:
            await stream.trim()

    loops = {
        *(asyncio.create_task(worker.run(), name=f"worker-{shard}")
          for shard, worker in enumerate(workers)),
        asyncio.create_task(sweeper.run(), name="sweeper"),
    }
    chores = {
        asyncio.create_task(_every(stop, settings.trim_interval_seconds, "stream trim",
                                   trim, REDIS_ERRORS), name="trim"),
        asyncio.create_task(_every(stop, settings.prune_interval_seconds, "store prune",
                                   prune, (Exception,)), name="prune"),
        asyncio.create_task(_every(stop, GAUGE_INTERVAL_SECONDS, "stream gauges",
                                   gauges, REDIS_ERRORS), name="gauges"),
    }
    log.info("persister started", streams=[s.key for s in streams], group=streams[0].group,
             consumer=consumer, batch=settings.batch_size)

    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopper, *loops, *chores}, return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in done if t is not stopper
               and (t.cancelled() or t.exception() is not None or not stop.is_set())]
    for task in crashed:
        log.error("persister loop ended unexpectedly; exiting", loop=task.get_name(),
                  error=repr(task.exception()) if not task.cancelled() else "cancelled")
    stop.set()
    log.info("persister draining")
    _, late = await asyncio.wait({*loops, *chores}, timeout=settings.shutdown_timeout_seconds)
    for task in late:
        log.warning("drain timed out; unacked entries stay in the stream", loop=task.get_name())
        task.cancel()
    for task in late:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    stopper.cancel()
    await memory.stop()
    await store.close()
    await telemetry.close()
    await redis.aclose()
    await probes.stop()
    log.info("persister stopped")
    if crashed:
        raise SystemExit(1)
