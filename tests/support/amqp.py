"""Test-side AMQP helpers: publish raw bodies, read what landed in a queue."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from common.naming import Names
from tests.support.timing import scaled

__all__ = ["delete_topology", "publish_raw", "queue_depth", "read_queue"]


async def publish_raw(
    channel: AbstractChannel,
    names: Names,
    body: bytes,
    routing_key: str = "event.like",
    message_id: str | None = None,
) -> None:
    """Publish bytes to the events exchange with confirms, as any publisher could."""
    exchange = await channel.get_exchange(names.events_exchange)
    await exchange.publish(
        aio_pika.Message(body, message_id=message_id, content_type="application/json",
                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=routing_key,
    )


async def read_queue(
    channel: AbstractChannel, queue_name: str, count: int, timeout: float = 10.0
) -> list[AbstractIncomingMessage]:
    """Take (and ack) exactly ``count`` messages from a queue, failing if fewer arrive."""
    queue = await channel.get_queue(queue_name)
    got: list[AbstractIncomingMessage] = []
    deadline = time.monotonic() + scaled(timeout)
    while len(got) < count:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{queue_name}: {len(got)} of {count} messages arrived")
            await asyncio.sleep(0.05)
            continue
        got.append(message)
    return got


async def queue_depth(channel: AbstractChannel, queue_name: str) -> int:
    declared = await channel.declare_queue(queue_name, passive=True)
    depth: Any = declared.declaration_result.message_count
    return int(depth)


async def delete_topology(connection: AbstractConnection, names: Names) -> None:
    """Delete a prefix's queues and exchanges; a channel per step, since a failed step closes
    its channel."""
    for queue in (names.notify_queue, names.dead_letter_queue, names.fanout_queue):
        async with connection.channel() as channel:
            await channel.queue_delete(queue)
    for exchange in (names.events_exchange, names.dead_letter_exchange):
        async with connection.channel() as channel:
            await channel.exchange_delete(exchange)
