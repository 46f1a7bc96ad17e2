"""Every service's watch on Redis's memory (:mod:`common.redis_memory` has the rules).

* At start, :meth:`RedisMemoryWatch.check_at_start` refuses a Redis whose
  ``maxmemory-policy`` evicts (the service exits with the message, naming the setting), unless
  ``HERALD_REDIS_ALLOW_EVICTION=true``. A Redis that does not answer yet is not refused: the
  watch's turns check it once it does.
* Every ``interval`` seconds a turn reads ``INFO memory``: ``/readyz`` shows the state
  (``redisMemory``) and turns unready while the policy would evict; the consumer passes a
  :class:`~common.redis_memory.Watermark` and is told when to stop and resume taking events
  (``on_hold``).

A turn that fails (Redis away) keeps the last state: the ``redis`` readiness check says
Redis is down, and the hold stays as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from common.logs import get_logger
from common.redis_memory import MemoryState, Watermark, read_memory, refusal
from common.tasks import Periodic

__all__ = ["EvictingRedis", "RedisMemoryWatch"]

log = get_logger(__name__)


class EvictingRedis(RuntimeError):
    """Redis would evict buffered notifications: the service must not run on it."""


class RedisMemoryWatch:
    def __init__(self, redis: Redis, *, allow_eviction: bool, interval: float = 1.0,
                 watermark: Watermark | None = None,
                 on_hold: Callable[[bool], Awaitable[None]] | None = None) -> None:
        self._redis = redis
        self._allow = allow_eviction
        self._watermark = watermark
        self._on_hold = on_hold
        self.state: MemoryState | None = None
        self.refused: str | None = None
        self.holding = False
        self._loop = Periodic("redis-memory", interval, self.turn, wait_first=True,
                              failure="redis memory not read")

    async def check_at_start(self, service: str) -> None:
        """Exit the process (``SystemExit`` with the reason, after logging it) if Redis
        answers and would evict; a Redis that does not answer is left to the turns (the
        service's own retries wait for it)."""
        try:
            await self.turn()
        except Exception as exc:  # Redis away (redis-py's errors, OSError, timeouts)
            log.warning("redis memory not read at start", error=repr(exc)[:200])
            return
        if self.refused is not None:
            log.error("refusing to start", reason=self.refused)
            raise SystemExit(f"{service}: {self.refused}")

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def turn(self) -> None:
        """Read the state once; tell ``on_hold`` when the watermark flips."""
        state = await read_memory(self._redis)
        self.state = state
        refused = refusal(state, allow_eviction=self._allow)
        if refused is not None and self.refused is None:
            log.error("redis would evict buffered notifications", detail=refused)
        self.refused = refused
        if self._watermark is None:
            return
        holding = self._watermark.update(state)
        if holding != self.holding:
            self.holding = holding
            log.warning("redis memory high: holding back" if holding
                        else "redis memory low again: resuming",
                        usedBytes=state.used, maxBytes=state.limit,
                        fraction=round(state.fraction, 3))
            if self._on_hold is not None:
                await self._on_hold(holding)

    async def ready(self) -> None:
        """The readiness check: raises while Redis would evict buffered notifications."""
        if self.refused is not None:
            raise EvictingRedis(f"maxmemory-policy {self.state.policy if self.state else '?'}"
                                " evicts: set noeviction")

    def describe(self) -> dict[str, Any] | None:
        """The last state for ``/readyz`` and the console, or ``None`` before the first read."""
        if self.state is None:
            return None
        return {**self.state.as_dict(), "holding": self.holding,
                "evictionRefused": self.refused is not None}
