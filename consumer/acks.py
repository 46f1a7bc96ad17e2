"""Acks for settled deliveries, coalesced: one ``basic.ack(multiple)`` covers many batches.

A quiet queue is served one message per batch, and one ack frame per message is a quorum
queue settle command per message in RabbitMQ (about 7 % of a core at 1,000 events/s against
one ack per 20). So a settled batch is acked at most ``max_delay`` seconds later, or at once
when ``max_pending`` messages wait (unacked deliveries count against the prefetch window, so
this stays well under it).

Safe because the worker settles batches in delivery order and never takes a batch past one
it leaves unsettled: "everything up to this tag" then means exactly the settled messages.
Nothing is lost by the delay: an ack that never goes out (the process dies) is a redelivery,
and the buffer ignores notifications it already made.
"""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractIncomingMessage

from common.logs import get_logger

__all__ = ["CumulativeAcker"]

log = get_logger(__name__)


class CumulativeAcker:
    def __init__(self, max_delay: float, max_pending: int) -> None:
        self._max_delay = max_delay
        self._max_pending = max(1, max_pending)
        self._last: AbstractIncomingMessage | None = None
        self._pending = 0
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        # One ack on the wire at a time, in tag order: a timer's flush and a full window's
        # could otherwise reach aiormq's bounded write queue in either order, and an ack
        # for an older tag after a newer cumulative one is an unknown tag (channel error).
        self._order = asyncio.Lock()

    async def settled(self, last: AbstractIncomingMessage, count: int) -> None:
        """``count`` messages up to ``last`` (the latest delivered) are done with."""
        self._last = last
        self._pending += count
        if self._pending >= self._max_pending or self._max_delay <= 0:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay, self._due)

    def _due(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.flush())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def flush(self) -> None:
        """Ack now whatever is settled (used when the window is full and before stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._order:
            last, self._last, self._pending = self._last, None, 0
            if last is None:
                return
            try:
                await last.ack(multiple=True)
            except Exception as exc:
                # The channel went away: the broker takes these back and redelivers them,
                # and the buffer already holds their notifications: it makes none again.
                log.warning("ack failed; the broker redelivers", error=repr(exc))

    async def close(self) -> None:
        await self.flush()
        await asyncio.gather(*self._sending, return_exceptions=True)
