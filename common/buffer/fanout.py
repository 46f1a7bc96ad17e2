"""A topic event's fan-out, as Redis keeps it (issue 20): its state and progress, and the
markers that let each chunk be published once.

One hash per fan-out (:meth:`common.buffer.keys.BufferKeys.fanout_key`):

* ``state``: ``running``, then ``done`` (its last page recorded) or ``cancelled`` (``DELETE
  /v1/fanouts/{eventId}``; the chunks still queued stop); ``startedAt`` (epoch ms, set once:
  the snapshot rule reads it), ``finishedAt``, ``topic`` and the ``event`` as taken;
* progress, each page counted once however often its chunk is delivered: ``pages``,
  ``recipients`` (subscribers reached, the actor left out), ``made``, ``muted``, ``held``,
  ``duplicate`` (made before: a redelivery, or the user reached directly by the same event),
  ``failed`` (dead-lettered: a template failed, an unknown type).

**A chunk's successor is published once.** Before publishing a chunk, its publisher claims
the chunk's marker (:meth:`FanoutLedger.claim`): ``pending`` with a lease, then ``done`` once
RabbitMQ confirmed it (:meth:`FanoutLedger.published`). A redelivered chunk finds ``done``
and publishes nothing; one that finds ``pending`` waits for the lease (its holder died
between the claim and the confirm: the chunk is then published again — at most one more
copy, which the next marker stops). The hash and markers live ``ttl`` (the "already made"
markers' time, ``DEDUP_TTL_SECONDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.scripts import FANOUT_BEGIN, FANOUT_CANCEL, FANOUT_CLAIM, FANOUT_PAGE, call
from common.redis_pool import as_text

__all__ = ["FIRST", "Claim", "FanoutLedger", "FanoutRecord", "PageCounts"]

FIRST = "^"
"""The marker name of a fan-out's first chunk (no user before it)."""

_COUNTS = ("pages", "recipients", "made", "muted", "held", "duplicate", "failed")


class Claim(Enum):
    MINE = 1
    """The caller may publish the chunk now (then :meth:`FanoutLedger.published`)."""
    PUBLISHED = 0
    """Published before: never again."""
    BUSY = -1
    """Another holder is publishing it (its lease runs): ask again later."""


@dataclass(frozen=True, slots=True)
class PageCounts:
    recipients: int = 0
    made: int = 0
    muted: int = 0
    held: int = 0
    duplicate: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class FanoutRecord:
    tenant_id: str
    event_id: str
    state: str
    started_ms: int
    topic: str
    event_json: str
    finished_ms: int | None
    counts: dict[str, int]

    @classmethod
    def of(cls, tenant_id: str, event_id: str, raw: dict[str, str]) -> FanoutRecord:
        finished = raw.get("finishedAt")
        return cls(tenant_id, event_id, raw.get("state", "running"),
                   int(raw.get("startedAt", "0")), raw.get("topic", ""), raw.get("event", ""),
                   int(finished) if finished else None,
                   {name: int(raw.get(name, "0")) for name in _COUNTS})


class FanoutLedger:
    def __init__(self, redis: Redis, keys: BufferKeys, timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._timeout = timeout_seconds

    async def begin(self, tenant_id: str, event_id: str, topic: str, event_json: str,
                    now_ms: int, ttl_ms: int) -> tuple[str, int]:
        """Record the fan-out unless it is recorded already; its ``(state, startedAt ms)``
        (a redelivered event finds the first start)."""
        state, started = await call(
            self._redis, FANOUT_BEGIN, [self._keys.fanout_key(tenant_id, event_id)],
            [now_ms, topic, event_json, ttl_ms], self._timeout)
        return as_text(state), int(started)

    async def get(self, tenant_id: str, event_id: str) -> FanoutRecord | None:
        raw: dict[Any, Any] = await self._redis.hgetall(
            self._keys.fanout_key(tenant_id, event_id))
        if not raw:
            return None
        text = {as_text(k): as_text(v) for k, v in raw.items()
                if not as_text(k).startswith("p:")}
        return FanoutRecord.of(tenant_id, event_id, text)

    async def claim(self, tenant_id: str, event_id: str, after: str, lease_ms: int) -> Claim:
        reply = await call(self._redis, FANOUT_CLAIM,
                           [self._keys.fanout_chunk_marker(tenant_id, event_id, after)],
                           [lease_ms], self._timeout)
        return Claim(int(reply))

    async def published(self, tenant_id: str, event_id: str, after: str, ttl_ms: int) -> None:
        """The chunk after ``after`` is confirmed by RabbitMQ: never publish it again."""
        await self._redis.set(self._keys.fanout_chunk_marker(tenant_id, event_id, after),
                              "done", px=ttl_ms)

    async def record_page(self, tenant_id: str, event_id: str, page: int, counts: PageCounts,
                          *, last: bool, now_ms: int) -> str | None:
        """Add one page's counts (once per page); the last page ends a running fan-out.
        The state after, or ``None`` when the fan-out is not known (expired)."""
        reply = await call(
            self._redis, FANOUT_PAGE, [self._keys.fanout_key(tenant_id, event_id)],
            [page, counts.recipients, counts.made, counts.muted, counts.held, counts.duplicate,
             counts.failed, 1 if last else 0, now_ms], self._timeout)
        return None if reply is None else as_text(reply)

    async def cancel(self, tenant_id: str, event_id: str, now_ms: int) -> str | None:
        """Cancel a running fan-out; the state after (``cancelled``, or ``done`` when it was
        over already), ``None`` when there is none."""
        reply = await call(self._redis, FANOUT_CANCEL,
                           [self._keys.fanout_key(tenant_id, event_id)], [now_ms],
                           self._timeout)
        return None if reply is None else as_text(reply)
