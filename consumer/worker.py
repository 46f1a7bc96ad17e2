"""The consume loop: deliveries in, batches through the pipeline, retries, graceful drain.

RabbitMQ pushes up to ``PREFETCH`` unacked messages; the loop takes whatever has arrived
(at least one, at most ``PREFETCH``) as one batch, so a quiet queue is served one message at
a time with no added latency and a busy one in large, pipelined batches.

Failures:

* Redis or RabbitMQ do not answer → nothing of the batch is acked; the batch is retried with
  backoff and jitter until they answer. Messages whose channel has died are dropped from the
  batch (the broker has already taken them back and redelivers them); the rest, delivered on
  the new channel after a reconnect, are still handled.
* Anything else (a bug meeting an odd message) → the batch is re-run one message at a time;
  a message that fails alone is nacked with requeue, and the quorum queue's delivery limit
  dead-letters it (``delivery_limit``) if it keeps failing. One poison message never blocks
  the queue and never stops the process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from redis.exceptions import RedisError

from common.logs import get_logger
from common.retry import GaveUp, Retrier
from consumer.acks import CumulativeAcker
from consumer.metrics import BATCH_SECONDS, BATCH_SIZE, count_retry

__all__ = ["TRANSIENT", "Handler", "Worker", "live_deliveries"]

log = get_logger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (
    RedisError,
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def _channel_closed(message: AbstractIncomingMessage) -> bool:
    try:
        return bool(message.channel.is_closed)
    except Exception:  # aio-pika raises once the delivery's channel is gone
        return True


def live_deliveries(
    batch: Sequence[AbstractIncomingMessage],
) -> list[AbstractIncomingMessage]:
    """The messages of ``batch`` whose channel is still open.

    After a reconnect one batch can hold the old channel's last deliveries (the broker has
    taken those back) ahead of the new channel's first ones. The new ones must still be
    handled and settled: a later cumulative ack on the new channel would otherwise cover
    them unprocessed."""
    return [m for m in batch if not _channel_closed(m)]


class Handler(Protocol):
    """What the worker hands each batch to: :class:`consumer.pipeline.Pipeline` (events)
    or :class:`consumer.fanout.ChunkHandler` (fan-out chunks). Raises on a Redis or
    RabbitMQ failure; every step idempotent."""

    async def handle_batch(self, messages: Sequence[AbstractIncomingMessage]) -> None: ...


class Worker:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        queue: AbstractQueue,
        pipeline: Handler,
        prefetch: int,
        retry_max_seconds: float,
        ack_delay_seconds: float = 0.0,
    ) -> None:
        self._connection = connection
        self._queue = queue
        self._pipeline = pipeline
        self._prefetch = prefetch
        self._acker = CumulativeAcker(ack_delay_seconds, prefetch // 2)
        # Deliveries, and one ``None`` put by stop() to wake a loop waiting on an empty inbox.
        self._inbox: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._consumer_tag: str | None = None
        self._stopping = asyncio.Event()
        self._retrier = Retrier(self._stopping, retry_max_seconds, on_retry=count_retry)
        self._abandoned = False
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer_tag = await self._queue.consume(self._inbox.put, no_ack=False)
        self._loop_task = asyncio.create_task(self._run(), name=f"consumer-loop-{self._queue.name}")

    async def hold(self, holding: bool) -> None:
        """Stop taking deliveries (``True``: they wait in RabbitMQ) or take them again
        (``False``). What is already held is finished either way. Called by the Redis memory
        watch at its high- and low-water marks (common/redis_watch.py)."""
        if holding:
            tag, self._consumer_tag = self._consumer_tag, None
            if tag is not None:
                await self._queue.cancel(tag)
        elif self._consumer_tag is None and not self._stopping.is_set():
            self._consumer_tag = await self._queue.consume(self._inbox.put, no_ack=False)

    async def stop(self, drain_seconds: float) -> None:
        """Stop taking deliveries, finish what is held (within ``drain_seconds``), then return.

        What is not finished stays unacked and goes back to the queue when the channel closes.
        """
        if self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception as exc:
                log.warning("consumer cancel failed", error=repr(exc))
        self._stopping.set()
        self._inbox.put_nowait(None)
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, drain_seconds)
            except TimeoutError:
                log.warning("drain timed out; unacked messages return to the queue")
        await self._acker.close()

    async def _run(self) -> None:
        while True:
            if self._stopping.is_set() and (self._inbox.empty() or self._abandoned):
                return
            batch = await self._next_batch()
            if batch:
                await self._handle(batch)

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        """What has arrived (waiting for at least one), up to PREFETCH; ``[]`` once woken
        by stop()."""
        first = await self._inbox.get()
        batch = [] if first is None else [first]
        while len(batch) < self._prefetch and not self._inbox.empty():
            message = self._inbox.get_nowait()
            if message is not None:
                batch.append(message)
        return batch

    async def _handle(self, batch: Sequence[AbstractIncomingMessage]) -> None:
        started = time.perf_counter()
        BATCH_SIZE.observe(len(batch))
        try:
            await self._with_retries(batch)
        except Exception:
            log.exception("batch failed; retrying its messages one by one", size=len(batch))
            for message in batch:
                if self._abandoned:
                    break
                await self._handle_alone(message)
        BATCH_SECONDS.observe(time.perf_counter() - started)

    async def _with_retries(self, batch: Sequence[AbstractIncomingMessage]) -> None:
        remaining = list(batch)

        async def attempt() -> None:
            nonlocal remaining
            live = live_deliveries(remaining)
            if len(live) < len(remaining):
                log.warning("channel closed under part of a batch; the broker redelivers "
                            "that part", dropped=len(remaining) - len(live), size=len(remaining))
                remaining = live
                if not remaining:
                    return
            await self._pipeline.handle_batch(remaining)
            await self._acker.settled(remaining[-1], len(remaining))

        try:
            await self._retrier.run("batch", attempt, TRANSIENT)
        except GaveUp:
            log.warning("stopping with an unfinished batch; it returns to the queue",
                        size=len(remaining))
            # Acks are cumulative: no later batch may be acked past this one.
            self._abandoned = True

    async def _handle_alone(self, message: AbstractIncomingMessage) -> None:
        try:
            await self._with_retries([message])
        except Exception:
            log.exception("message failed alone; requeued (the delivery limit dead-letters it)",
                          eventId=message.message_id)
            try:
                await message.nack(requeue=True)
            except Exception as exc:
                log.warning("nack failed", error=repr(exc))
