"""Releasing held notifications when their recipients' quiet hours end.

A :class:`Releaser` turns every ``HERALD_RELEASE_INTERVAL_SECONDS`` (a :class:`Periodic`).
Each turn takes **at most** ``HERALD_RELEASE_BATCH`` due entries from the held buffer
(:meth:`common.buffer.held.HeldBuffer.due`: the earliest first, claimed for
``HERALD_RELEASE_CLAIM_SECONDS``), awaits ``make(entries)`` — the pipeline's callback, which
checks each one again with the recipient's current preferences and quiet hours and makes it
like a new one, moves it to a later release, or stops it — and then forgets them
(:meth:`~common.buffer.held.HeldBuffer.done`; one the callback moved stays held). So when
10,000 users' quiet hours end at the same minute, they come out as a bounded burst of one
batch per interval, not all at once.

Failures, on purpose:

* ``make`` or Redis fails with a transient error (Redis, RabbitMQ, a timeout): nothing is
  forgotten; the entries' claims lapse and a later turn takes them again. What ``make`` had
  already made is not made twice (the buffer's "already made" marker).
* ``make`` raises anything else (a bug meeting an odd entry): the batch is made again one
  entry at a time, so one poison entry does not hold back the others; the one that fails
  alone is logged and left to its claim (taken again when it lapses).
* While Redis is over its high-water mark (``holding``) no turn takes anything: making would
  be refused anyway.
* A consumer killed at any point loses nothing (the claims lapse), and makes nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from common.buffer.held import HeldBuffer, HeldEntry
from common.logs import get_logger
from common.tasks import Periodic
from consumer.metrics import HELD, RELEASE_BATCH, RELEASED
from consumer.worker import TRANSIENT

__all__ = ["Make", "Releaser", "wall_ms"]

log = get_logger(__name__)

Make = Callable[[Sequence[HeldEntry]], Awaitable[None]]
"""The pipeline's callback: make (or move, or stop) the released entries; raise only when
none of them should be forgotten yet."""


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Releaser:
    def __init__(self, held: HeldBuffer, make: Make, *, batch: int, interval_seconds: float,
                 claim_seconds: float, clock: Callable[[], int] = wall_ms,
                 holding: Callable[[], bool] = lambda: False) -> None:
        """``clock``: now in epoch ms; ``holding``: true while the consumer holds back
        (Redis over its high-water mark)."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self._held = held
        self._make = make
        self._batch = batch
        self._claim_ms = max(1, int(claim_seconds * 1000))
        self._clock = clock
        self._holding = holding
        self._loop = Periodic("held-release", interval_seconds, self._turn,
                              failure="held release turn failed")

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop turning; a turn in flight is cancelled (its claims lapse)."""
        await self._loop.stop()

    async def _turn(self) -> None:
        try:
            await self.turn()
        except TRANSIENT as exc:
            log.warning("held release turn failed; its entries are taken again when their "
                        "claims lapse", error=repr(exc)[:200])

    async def turn(self) -> int:
        """One turn: take at most ``batch`` due entries, make them, forget them; how many
        were forgotten (released). Raises on a transient failure (nothing forgotten)."""
        if self._holding():
            HELD.set(await self._held.count())
            return 0
        entries = await self._held.due(self._clock(), self._batch, self._claim_ms)
        released = 0
        if entries:
            RELEASE_BATCH.observe(len(entries))
            try:
                await self._make(entries)
            except TRANSIENT:
                raise
            except Exception:
                log.exception("release batch failed; making its entries one by one",
                              size=len(entries))
                released = await self._one_by_one(entries)
            else:
                released = await self._held.done(entries)
                RELEASED.inc(released)
        HELD.set(await self._held.count())
        return released

    async def _one_by_one(self, entries: Sequence[HeldEntry]) -> int:
        released = 0
        for entry in entries:
            try:
                await self._make([entry])
            except TRANSIENT:
                raise
            except Exception:
                log.exception("held notification failed alone; taken again when its claim "
                              "lapses", notificationId=entry.notification_id,
                              tenantId=entry.tenant_id)
                continue
            done = await self._held.done([entry])
            RELEASED.inc(done)
            released += done
        return released
