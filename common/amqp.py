"""Connecting to RabbitMQ: wait for the broker at start, then let aio-pika keep the
connection (its robust connection reconnects and restores channels, queues and consumers)."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from common.logs import get_logger
from common.retry import Retrier

__all__ = ["connect"]

log = get_logger(__name__)


async def connect(
    url: str, attempt_timeout: float, maximum_delay: float = 5.0
) -> AbstractRobustConnection:
    """Connect, retrying with backoff until the broker answers (cancel to give up)."""
    return await Retrier(maximum_delay=maximum_delay, initial_delay=0.2).run(
        "rabbitmq_connect",
        lambda: aio_pika.connect_robust(url, timeout=attempt_timeout),
        (TimeoutError, OSError, aio_pika.exceptions.AMQPError),
    )
