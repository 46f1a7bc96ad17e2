"""Retrying one operation with backoff until it succeeds: every retry loop of Herald.

:class:`Retrier` runs an async call until it returns; between failures (of the exception
types given) it waits with :class:`~common.backoff.Backoff` (full jitter), logs one warning
naming the operation, and calls ``on_retry`` (each service counts its retries in its own
metric). With a ``stop`` event, once it is set the retrier makes at most
:data:`ATTEMPTS_WHILE_STOPPING` more attempts, no longer waiting between them, and then
raises :class:`GaveUp` — the caller leaves its work unacknowledged for another replica (or
itself, restarted). Without one it retries until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from common.backoff import Backoff
from common.logs import get_logger

__all__ = ["ATTEMPTS_WHILE_STOPPING", "REDIS_ERRORS", "GaveUp", "Retrier", "pause"]

log = get_logger(__name__)

T = TypeVar("T")

REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
"""What a Redis call raises when Redis is down or slow (``ConnectionError`` is an OSError)."""

ATTEMPTS_WHILE_STOPPING = 3


class GaveUp(Exception):
    """The service is stopping and the operation still fails: its work stays unacked."""


async def pause(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Retrier:
    def __init__(
        self,
        stop: asyncio.Event | None = None,
        maximum_delay: float = 5.0,
        *,
        initial_delay: float = 0.05,
        on_retry: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self._stop = stop
        self._initial = initial_delay
        self._max = maximum_delay
        self._on_retry = on_retry

    async def run(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        errors: tuple[type[BaseException], ...] = (Exception,),
    ) -> T:
        backoff = Backoff(self._initial, self._max)
        attempts_stopping = 0
        while True:
            try:
                return await call()
            except errors as exc:
                if self._stop is not None and self._stop.is_set():
                    attempts_stopping += 1
                    if attempts_stopping >= ATTEMPTS_WHILE_STOPPING:
                        log.warning("stopping: giving up on a failing operation; its work "
                                    "stays unacknowledged",
                                    operation=operation, error=repr(exc)[:500])
                        raise GaveUp(operation) from exc
                delay = backoff.next()
                if self._on_retry is not None:
                    self._on_retry(operation, exc)
                log.warning("operation failed, retrying", operation=operation,
                            error=repr(exc)[:500], retry_in=round(delay, 3),
                            attempt=backoff.attempts)
                await pause(self._stop, delay)
