"""Retrying one operation with backoff until it succeeds, or until a drain gives up on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from common.backoff import Backoff
from common.logs import get_logger
from persister.metrics import RETRIES

__all__ = ["REDIS_ERRORS", "GaveUp", "Retrier", "pause"]

log = get_logger(__name__)

T = TypeVar("T")

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
"""What a Redis call raises when Redis is down or slow (``ConnectionError`` is an OSError)."""

ATTEMPTS_WHILE_STOPPING = 3


class GaveUp(Exception):
    """The service is stopping and the operation still fails: its work stays unacked."""


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Retrier:
    """Runs an operation until it succeeds; between failures waits with full-jitter backoff.

    Once ``stop`` is set it makes at most :data:`ATTEMPTS_WHILE_STOPPING` more attempts, no
    longer waiting between them, and then gives up (raises :class:`GaveUp`): whatever the
    operation was for stays unacked in the stream, where another persister (or this one,
    restarted) takes it up again.
    """

    def __init__(self, stop: asyncio.Event, retry_max_seconds: float) -> None:
        self._stop = stop
        self._max = retry_max_seconds

    async def run(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        errors: tuple[type[BaseException], ...] = (Exception,),
    ) -> T:
        backoff = Backoff(0.05, self._max)
        attempts_stopping = 0
        while True:
            try:
                return await call()
            except errors as exc:
                if self._stop.is_set():
                    attempts_stopping += 1
                    if attempts_stopping >= ATTEMPTS_WHILE_STOPPING:
                        log.warning("stopping: giving up on a failing operation; its entries stay "
                                    "unacked in the stream",
                                    operation=operation, error=repr(exc)[:500])
                        raise GaveUp(operation) from exc
                delay = backoff.next()
                RETRIES.labels(operation).inc()
                log.warning("operation failed, retrying", operation=operation,
                            error=repr(exc)[:500], retry_in=round(delay, 3),
                            attempt=backoff.attempts)
                await pause(self._stop, delay)
