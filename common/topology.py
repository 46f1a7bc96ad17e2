"""The AMQP topology, declared identically (and idempotently) by producer and consumer.

::

    producer ──► {prefix}.events (topic) ──event.#──► {prefix}.notify (quorum)
                                                         │ rejected, or over the delivery limit
                                                         ▼
                 {prefix}.dlx (fanout) ───────────────► {prefix}.dlq (quorum)

    consumer ──► (default exchange) ──► {prefix}.fanout (quorum): a topic event's chunks
                                                         │ over the delivery limit → {prefix}.dlx

``{prefix}.notify`` is the consumer's queue and has one meaning: events to turn into
notifications. A future reader of the events (analytics, say) binds its own queue.

Dead-lettering from the quorum queue is ``at-least-once`` (RabbitMQ >= 3.10), which needs
``x-overflow: reject-publish``: a message is only removed once the dead-letter queue has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from common.naming import Names

__all__ = ["REASON_HEADER", "Topology", "declare_fanout_queue", "declare_topology",
           "notify_queue_arguments"]

REASON_HEADER = "x-herald-reason"
"""Header carrying the machine-readable reason of a message the consumer dead-lettered."""


def notify_queue_arguments(names: Names, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.dead_letter_exchange,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": delivery_limit,
    }


@dataclass(frozen=True, slots=True)
class Topology:
    events: AbstractExchange
    dead_letters: AbstractExchange
    notify_queue: AbstractQueue
    dead_letter_queue: AbstractQueue
    fanout_queue: AbstractQueue | None = None
    """Declared only by :func:`declare_fanout_queue` (the consumer's)."""


async def declare_topology(
    channel: AbstractChannel, names: Names, delivery_limit: int
) -> Topology:
    """Declare exchanges, queues and bindings; safe to call from every process at start."""
    events = await channel.declare_exchange(
        names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead_letters = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dlq = await channel.declare_queue(
        names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dead_letters, routing_key="#")
    queue = await channel.declare_queue(
        names.notify_queue,
        durable=True,
        arguments=notify_queue_arguments(names, delivery_limit),
    )
    await queue.bind(events, routing_key="event.#")
    return Topology(events, dead_letters, queue, dlq)


async def declare_fanout_queue(channel: AbstractChannel, names: Names,
                               delivery_limit: int) -> AbstractQueue:
    """The fan-out chunks' queue (``{prefix}.fanout``), on ``channel`` (the consumer's second
    channel, with its own small prefetch): quorum, dead-lettered as ``{prefix}.notify``."""
    return await channel.declare_queue(
        names.fanout_queue, durable=True,
        arguments=notify_queue_arguments(names, delivery_limit))
