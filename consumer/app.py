"""Wiring of the consumer: Redis, RabbitMQ, the pipeline, the worker and the probes."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from common.amqp import connect
from common.buffer.digest import DigestBuffer
from common.buffer.fanout import FanoutLedger
from common.buffer.held import HeldBuffer
from common.buffer.inbox import NotificationBuffer
from common.config_cache import ConfigCache
from common.health import ProbeServer, Readiness
from common.logs import get_logger
from common.redis_memory import Watermark
from common.redis_pool import open_redis
from common.redis_watch import RedisMemoryWatch
from common.retry import GaveUp, Retrier
from common.service import stop_on_signals
from common.store import Store, open_store
from common.telemetry import Tracer, start_telemetry
from common.topology import declare_fanout_queue, declare_topology
from consumer.depth import sample_queue_depths
from consumer.fanout import ChunkHandler, ChunkPublisher, FanoutStarter
from consumer.metrics import HOLDING, count_retry
from consumer.pipeline import Pipeline
from consumer.release import Releaser
from consumer.settings import ConsumerSettings
from consumer.worker import Worker

__all__ = ["make_buffer", "make_digests", "serve"]

log = get_logger(__name__)

DEPTH_STOP_SECONDS = 5.0  # the depth sampler's last turn (two passive declares) at most


def make_buffer(redis: Redis, settings: ConsumerSettings) -> NotificationBuffer:
    return NotificationBuffer(
        redis,
        settings.names.keys,
        rate_limit_count=settings.rate_limit_count,
        rate_limit_window_ms=int(settings.rate_limit_window_seconds * 1000),
        semantic_window_ms=int(settings.semantic_window_seconds * 1000),
        dedup_ttl_ms=int(settings.dedup_ttl_seconds * 1000),
        max_pending=settings.max_pending_per_user,
        timeout_seconds=settings.redis_timeout_seconds,
    )


def make_digests(redis: Redis, settings: ConsumerSettings) -> DigestBuffer:
    return DigestBuffer(redis, settings.names.keys,
                        dedup_ttl_ms=int(settings.dedup_ttl_seconds * 1000),
                        max_pending=settings.max_pending_per_user,
                        timeout_seconds=settings.redis_timeout_seconds)


async def serve(settings: ConsumerSettings) -> None:
    """Run until SIGTERM/SIGINT, then drain: stop consuming, finish held messages, exit."""
    stop = stop_on_signals()
    # No per-reply socket timeout: the buffer puts one deadline on each whole pipeline
    # (redis-py would arm a timer for every reply of it).
    redis = open_redis(settings.redis_url, socket_timeout=None)
    connection = await connect(settings.rabbitmq_url, attempt_timeout=10)

    worker: Worker | None = None
    fanouts: Worker | None = None

    async def hold(holding: bool) -> None:
        HOLDING.set(1 if holding else 0)
        if worker is not None:
            await worker.hold(holding)
        if fanouts is not None:
            await fanouts.hold(holding)

    memory = RedisMemoryWatch(
        redis, allow_eviction=settings.herald_redis_allow_eviction,
        watermark=Watermark(settings.herald_redis_high_water, settings.herald_redis_low_water),
        on_hold=hold)
    await memory.check_at_start("consumer")

    readiness = Readiness()
    readiness.add("redis", redis.ping)
    readiness.add("redis_memory", memory.ready)
    readiness.show("redisMemory", memory.describe)

    async def rabbitmq_up() -> None:
        if not connection.connected.is_set():
            raise ConnectionError("rabbitmq not connected")

    readiness.add("rabbitmq", rabbitmq_up)
    store: Store | None = None

    async def store_up() -> None:
        if store is None:
            raise ConnectionError("store not open yet")
        await store.ping()

    readiness.add("store", store_up)

    async def consuming() -> None:
        if worker is None:
            raise RuntimeError("not consuming yet")

    readiness.add("consuming", consuming)
    probes = ProbeServer(readiness, settings.host, settings.port)
    await probes.start()

    # Tenants' types and templates and users' settings: the store, through a cache.
    retrier = Retrier(stop, settings.retry_max_seconds, on_retry=count_retry)
    try:
        store = await retrier.run("open_store", lambda: open_store(
            settings.store_url, retention_days=settings.store_retention_days))
    except GaveUp:
        await connection.close()
        await redis.aclose()
        await probes.stop()
        return
    log.info("store open", backend=store.backend)

    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=settings.prefetch)
    topology = await declare_topology(channel, settings.names, settings.delivery_limit)
    tracer = Tracer()
    held = HeldBuffer(redis, settings.names.keys, settings.redis_timeout_seconds)
    # Fan-out chunks (issue 20): a channel of their own with a small prefetch, so a fan-out
    # never holds the events' queue back.
    fanout_channel = await connection.channel(publisher_confirms=True)
    await fanout_channel.set_qos(prefetch_count=settings.fanout_prefetch)
    fanout_queue = await declare_fanout_queue(fanout_channel, settings.names,
                                              settings.delivery_limit)
    ledger = FanoutLedger(redis, settings.names.keys, settings.redis_timeout_seconds)
    chunks = ChunkPublisher(fanout_channel.default_exchange, settings.names, ledger,
                            settings.fanout_lease_seconds, settings.dedup_ttl_seconds)
    pipeline = Pipeline(
        make_buffer(redis, settings), topology.dead_letters, settings.notification_ttl_seconds,
        tracer, ConfigCache(store, settings.herald_config_ttl_seconds), held=held,
        digests=make_digests(redis, settings),
        fanout=FanoutStarter(ledger, chunks, settings.dedup_ttl_seconds),
    )
    releaser = Releaser(held, pipeline.make_released, batch=settings.herald_release_batch,
                        interval_seconds=settings.herald_release_interval_seconds,
                        claim_seconds=settings.herald_release_claim_seconds,
                        holding=lambda: memory.holding)
    worker = Worker(connection, topology.notify_queue, pipeline, settings.prefetch,
                    settings.retry_max_seconds, settings.ack_delay_seconds)
    fanouts = Worker(connection, fanout_queue,
                     ChunkHandler(ledger, chunks, pipeline.maker, store, topology.dead_letters,
                                  settings.fanout_page_size),
                     settings.fanout_prefetch, settings.retry_max_seconds,
                     settings.ack_delay_seconds)
    await worker.start()
    await fanouts.start()
    if memory.holding:  # over the high-water mark already at start
        await worker.hold(True)
        await fanouts.hold(True)
    memory.start()
    releaser.start()
    telemetry = start_telemetry(redis, settings, "consumer", tracer)
    depths = asyncio.create_task(sample_queue_depths(connection, settings.names, stop))
    log.info("consumer started", queue=settings.names.notify_queue, prefetch=settings.prefetch)

    await stop.wait()
    log.info("consumer draining")
    # The depth sampler ends its turn by itself once stop is set. Cancelled in the middle of
    # a channel RPC, aiormq closed that channel mid-call and the broker then closed the whole
    # connection (504 CHANNEL_ERROR): the drain's acks failed and a few buffered events were
    # redelivered. So it is waited for, and cancelled only if it hangs.
    _, hung = await asyncio.wait({depths}, timeout=DEPTH_STOP_SECONDS)
    for task in hung:
        task.cancel()
    await asyncio.gather(depths, return_exceptions=True)
    await releaser.stop()
    await memory.stop()
    await asyncio.gather(worker.stop(settings.shutdown_timeout_seconds),
                         fanouts.stop(settings.shutdown_timeout_seconds))
    await connection.close()
    await telemetry.close()
    await store.close()
    await redis.aclose()
    await probes.stop()
    log.info("consumer stopped")
