"""The expiry sweep: a notification whose ``expiresAt`` passed without an ACK goes to the
persist stream as ``expired``, and then leaves the buffer.

The Redis side (the lease, the due members, the ``expire`` script) is the buffer owner's
(:class:`common.buffer.expiry.ExpiryQueue`); this is the loop around it. One round (every
``SWEEP_INTERVAL_SECONDS``; at once again while rounds come back full):

1. take or renew the lease and read up to ``SWEEP_BATCH`` members of the expiry index due
   now (one round trip);
2. per user, one script writes an ``expired`` entry for every notification still pending
   (``t`` = its ``expiresAt``, so two sweepers write identical entries) and only then removes
   them (one round trip for every user);
3. only if every script succeeded, drop the members: found, gone (acked, or past the
   buffer's grace period) or malformed.

A crash between any two steps leaves work the next round redoes; a notification never leaves
the buffer without its entry in the stream. An ACK racing the sweep is one script against
another: whichever runs first takes the notification (``acked`` beats ``expired`` in the
store anyway).

Several persisters may run; the lease (``SET NX PX``-like, renewed each round) lets one of
them sweep at a time so that a backlog is not written N times over. Nothing depends on it for
correctness: if the holder dies another takes over when the lease runs out, and an overlap
only duplicates entries.
"""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from common.buffer.expiry import ExpiryQueue
from common.buffer.keys import BufferKeys
from common.logs import get_logger
from common.retry import REDIS_ERRORS, GaveUp, Retrier, pause
from persister.metrics import EXPIRED, count_retry

__all__ = ["Sweeper", "lease_key"]

log = get_logger(__name__)

def lease_key(names: BufferKeys) -> str:
    return names.sweeper_lease


class Sweeper:
    def __init__(
        self,
        redis: Redis,
        names: BufferKeys,
        holder: str,
        stop: asyncio.Event,
        *,
        interval_seconds: float,
        batch: int,
        retry_max_seconds: float,
    ) -> None:
        self._queue = ExpiryQueue(redis, names)
        self._holder = holder
        self._stop = stop
        self._interval = interval_seconds
        self._batch = batch
        self._retry_max = retry_max_seconds
        self._lease_ms = int(max(10.0, 3 * interval_seconds) * 1000)

    async def run(self) -> None:
        """Sweep until ``stop``; a round in progress is finished first."""
        retrier = Retrier(self._stop, self._retry_max, on_retry=count_retry)
        while not self._stop.is_set():
            try:
                full = await retrier.run("sweep", self.sweep_once, REDIS_ERRORS)
            except GaveUp:
                break
            if not full:
                await pause(self._stop, self._interval)
        try:
            await self._queue.release(self._holder)
        except REDIS_ERRORS as exc:
            log.info("sweeper lease not released; it runs out by itself", error=repr(exc))

    async def sweep_once(self, now_ms: int | None = None) -> bool:
        """One round; True when it was full (more may be due right away)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        due = await self._queue.lease_and_due(self._holder, self._lease_ms, now_ms,
                                              self._batch)
        if due is None or not due.members:
            return False
        for member in due.malformed:
            log.warning("malformed expiry index member dropped", member=repr(member))
        expired = await self._queue.expire(due.parsed)
        EXPIRED.inc(expired)
        await self._queue.drop(due.members)
        if expired:
            log.info("expired notifications moved to the stream", count=expired,
                     gone=len(due.parsed) - expired)
        return len(due.members) >= self._batch
