"""Queue depths for ``/metrics``: the consumer samples its own queues every few seconds.

A passive declare on a channel of its own answers the number of messages ready; while
RabbitMQ is away the gauges keep their last value and the next turn tries again (the
readiness probe says RabbitMQ is down meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib

from aio_pika.abc import AbstractRobustConnection

from common.naming import Names
from consumer.metrics import QUEUE_MESSAGES

__all__ = ["sample_queue_depths"]

INTERVAL_SECONDS = 2.0


async def sample_queue_depths(connection: AbstractRobustConnection, names: Names,
                              stop: asyncio.Event) -> None:
    queues = {"notify": names.notify_queue, "dead_letter": names.dead_letter_queue}
    while not stop.is_set():
        with contextlib.suppress(Exception):  # RabbitMQ away: keep the last value
            channel = await connection.channel()
            try:
                for label, name in queues.items():
                    queue = await channel.declare_queue(name, passive=True)
                    count = queue.declaration_result.message_count
                    QUEUE_MESSAGES.labels(label).set(count or 0)
            finally:
                await channel.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), INTERVAL_SECONDS)
