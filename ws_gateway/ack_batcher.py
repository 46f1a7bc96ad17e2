"""ACKs of every connection of this process, coalesced into one Redis round trip per batch.

One ACK is one script per user (:mod:`common.buffer.pending`: read the bodies, record them in
the persist stream, remove them from the buffer), and a round trip costs about 0.1 ms of the
gateway's CPU in redis-py whatever it carries. So ACKs that arrive close together share one:
the first one waits at most ``max_delay`` seconds (or until ``max_ids`` ids are waiting) for
others to join it, and while a batch is with Redis the next one gathers. Under load the
batches grow by themselves; a lone ACK waits ``max_delay`` longer than it used to.

Every request keeps its own outcome: its ``(acked, unknown)``, or the :class:`RedisError`
that kept it from being recorded (then nothing of it was removed, and the client is told to
send it again). A request is only ever looked up in its own user's keys.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.exceptions import RedisError

from common.buffer.pending import AckOutcome, AckRequest, PendingStore
from common.logs import get_logger
from ws_gateway.metrics import ACK_BATCHES

__all__ = ["AckBatcher"]

log = get_logger(__name__)


class AckBatcher:
    def __init__(self, pending: PendingStore, max_delay: float = 0.001,
                 max_ids: int = 1000) -> None:
        self._pending = pending
        self._max_delay = max_delay
        self._max_ids = max_ids
        self._waiting: list[tuple[AckRequest, asyncio.Future[AckOutcome]]] = []
        self._waiting_ids = 0
        self._full: asyncio.Future[None] | None = None  # set once max_ids are waiting
        self._flusher: asyncio.Task[None] | None = None  # runs while ACKs are waiting
        self._in_flight: list[tuple[AckRequest, asyncio.Future[AckOutcome]]] = []

    async def ack(self, tenant_id: str, user_id: str, ids: tuple[str, ...]
                  ) -> tuple[list[str], list[str]]:
        """``(acked now, not pending for this user)``; :class:`RedisError` if not recorded."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[AckOutcome] = loop.create_future()
        self._waiting.append((AckRequest(tenant_id, user_id, ids), outcome))
        self._waiting_ids += len(ids)
        if self._flusher is None:
            self._full = loop.create_future()
            self._flusher = loop.create_task(self._flush_while_waiting())
        if self._waiting_ids >= self._max_ids and self._full is not None \
                and not self._full.done():
            self._full.set_result(None)
        result = await outcome
        if isinstance(result, RedisError):
            raise result
        return result

    async def close(self) -> None:
        flusher = self._flusher
        if flusher is not None:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    async def _flush_while_waiting(self) -> None:
        try:
            if self._full is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full, self._max_delay)
            while self._waiting:
                self._in_flight = self._take()
                await self._flush(self._in_flight)
                self._in_flight = []
        finally:
            self._flusher = None
            self._full = None
            # Only when cancelled (shutting down) or failed: nobody waits forever. Nothing of
            # an unanswered request is known to be removed; its client sends it again.
            for _, outcome in [*self._in_flight, *self._waiting]:
                if not outcome.done():
                    outcome.set_result(RedisError("the gateway stopped before the ACK was done"))
            self._in_flight = []
            self._waiting.clear()
            self._waiting_ids = 0

    def _take(self) -> list[tuple[AckRequest, asyncio.Future[AckOutcome]]]:
        """The oldest waiting requests, up to ``max_ids`` ids (at least one request)."""
        count = ids = 0
        for request, _ in self._waiting:
            if count and ids + len(request.ids) > self._max_ids:
                break
            count += 1
            ids += len(request.ids)
        batch, self._waiting = self._waiting[:count], self._waiting[count:]
        self._waiting_ids -= ids
        return batch

    async def _flush(self, batch: list[tuple[AckRequest, asyncio.Future[AckOutcome]]]) -> None:
        outcomes: list[AckOutcome]
        ACK_BATCHES.inc()
        try:
            outcomes = await self._pending.ack_many([request for request, _ in batch])
        except RedisError as exc:
            outcomes = [exc] * len(batch)
        except Exception as exc:  # a bug: fail this batch, keep serving the next ones
            log.exception("ack batch failed")
            outcomes = [RedisError(f"ack batch failed: {exc!r}")] * len(batch)
        for (_, waiter), outcome in zip(batch, outcomes, strict=True):
            if not waiter.done():  # its connection may have gone meanwhile
                waiter.set_result(outcome)
