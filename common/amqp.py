"""Connecting to RabbitMQ: wait for the broker at start, then let aio-pika keep the
connection (its robust connection reconnects and restores channels, queues and consumers)."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from common.backoff import Backoff
from common.logs import get_logger

__all__ = ["connect"]

log = get_logger(__name__)


async def connect(
    url: str, attempt_timeout: float, maximum_delay: float = 5.0
) -> AbstractRobustConnection:
    """Connect, retrying with backoff until the broker answers (cancel to give up)."""
    backoff = Backoff(0.2, maximum_delay)
    while True:
        try:
            return await aio_pika.connect_robust(url, timeout=attempt_timeout)
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
            delay = backoff.next()
            log.warning("rabbitmq connect failed", error=repr(exc), retry_in=round(delay, 2))
            await asyncio.sleep(delay)
