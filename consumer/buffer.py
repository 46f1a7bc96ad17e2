"""The consumer's Redis side: the per-actor rate limiter and the notification buffer.

Both are Lua scripts, so each step is one atomic operation keyed on an id the caller supplies
(never "check, then write" across round trips, the seed's lossy pattern):

* ``admit`` — sliding-window log per actor. Admitting the same ``eventId`` twice counts once,
  so a redelivered event is admitted again and never throttled by its own earlier attempt.
  Entries older than the window are pruned by their timestamp, so a limited actor recovers
  as soon as the window passes, however steadily it keeps sending.
* ``buffer`` — the "already made" marker, the erasure tombstone (:mod:`common.erasure`: an
  erased recipient gets nothing of an event accepted before the erasure, nor any notification
  id erased), the semantic-window marker, the notification, its place in the replay order and
  the gateway signal, all in one script. A consumer killed at
  any point leaves either all of it or none of it; the AMQP message is acked only afterwards.

Every key of one call shares a hash tag (the recipient, or the actor), so this runs on Redis
Cluster. The expiry index is one global key, written by one ZADD for the whole batch *before*
the buffer scripts in the same pipeline: an index entry without a notification is harmless
(the persister drops it), a notification without an index entry would never expire.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from common.models import Notification
from common.naming import Names

__all__ = ["Admission", "BufferOutcome", "NotificationBuffer", "Pending"]

ADMIT_LUA = """
local key, event_id = KEYS[1], ARGV[1]
local limit, window_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
if redis.call('ZSCORE', key, event_id) then
  return 1
end
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, event_id)
  redis.call('PEXPIRE', key, window_ms)
  return 1
end
return 0
"""

BUFFER_LUA = """
local seen, pending, order, sem, tomb = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, body, created_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local seen_ms, sem_ms, keep_until_ms = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', seen) == 1 then
  return 0
end
local erased = redis.call('HGET', tomb, 'at')
if erased and (tonumber(erased) >= tonumber(ARGV[8]) or redis.call('HEXISTS', tomb, id) == 1) then
  return 3
end
if sem_ms > 0 and not redis.call('SET', sem, id, 'NX', 'PX', sem_ms) then
  return 2
end
redis.call('SET', seen, '1', 'PX', seen_ms)
redis.call('HSET', pending, id, body)
redis.call('ZADD', order, created_ms, id)
for _, key in ipairs({pending, order}) do
  local at = redis.call('PEXPIRETIME', key)
  if at < keep_until_ms then
    redis.call('PEXPIREAT', key, keep_until_ms)
  end
end
redis.call('PUBLISH', ARGV[7], body)
return 1
"""


class Admission(IntEnum):
    LIMITED = 0
    ADMITTED = 1


class BufferOutcome(IntEnum):
    DUPLICATE = 0
    BUFFERED = 1
    SEMANTIC_DUPLICATE = 2
    ERASED = 3
    """The recipient was erased (:mod:`common.erasure`) after the event was accepted, or this
    very notification was erased: nothing is made."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification to buffer, with its semantic-dedup digest (or None) and when its event
    was accepted (epoch ms; ``None``: its ``createdAt``), which the erasure tombstone is
    compared with."""

    notification: Notification
    semantic_digest: str | None
    accepted_ms: int | None = None


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def expiry_member(tenant_id: str, user_id: str, notification_id: str) -> str:
    return f"{tenant_id}|{user_id}|{notification_id}"


class NotificationBuffer:
    def __init__(
        self,
        redis: Redis,
        names: Names,
        *,
        rate_limit_count: int,
        rate_limit_window_ms: int,
        semantic_window_ms: int,
        dedup_ttl_ms: int,
        grace_ms: int,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._redis = redis
        self._names = names
        self._limit = rate_limit_count
        self._window_ms = rate_limit_window_ms
        self._semantic_ms = semantic_window_ms
        self._dedup_ms = dedup_ttl_ms
        self._grace_ms = grace_ms
        self._timeout = timeout_seconds
        self._admit_sha = _sha(ADMIT_LUA)
        self._buffer_sha = _sha(BUFFER_LUA)

    async def _execute(self, fill: Callable[[Pipeline], None]) -> list[Any]:
        """Run one pipeline of EVALSHA calls. If Redis lost its scripts (a restart), load
        them and run it again: every command in these pipelines is idempotent. (redis-py's
        Script objects would ask ``SCRIPT EXISTS`` on every execute: a round trip each.)

        One deadline for the whole pipeline: past it, ``TimeoutError`` (the caller retries;
        redis-py drops a connection whose reply was cut off)."""
        for _ in range(2):
            async with self._redis.pipeline(transaction=False) as pipe, \
                    asyncio.timeout(self._timeout):
                fill(pipe)
                results: list[Any] = await pipe.execute(raise_on_error=False)
            if not any(isinstance(r, NoScriptError) for r in results):
                for result in results:
                    if isinstance(result, Exception):
                        raise result
                return results
            async with asyncio.timeout(self._timeout):
                await self._redis.script_load(ADMIT_LUA)
                await self._redis.script_load(BUFFER_LUA)
        raise NoScriptError("scripts missing right after SCRIPT LOAD")

    async def admit(self, requests: Sequence[tuple[str, str, str]]) -> list[Admission]:
        """Rate-limit ``(tenant, actor, eventId)`` triples, pipelined in one round trip."""
        if not requests:
            return []

        def fill(pipe: Pipeline) -> None:
            for tenant, actor, event_id in requests:
                pipe.evalsha(self._admit_sha, 1, self._names.rate_limit_key(tenant, actor),
                             event_id, self._limit, self._window_ms)

        results = await self._execute(fill)
        return [Admission(int(r)) for r in results]

    async def buffer(self, items: Sequence[Pending]) -> list[BufferOutcome]:
        """Buffer notifications, pipelined in one round trip; idempotent on each id."""
        if not items:
            return []
        names = self._names

        def fill(pipe: Pipeline) -> None:
            expires_ms = [int(item.notification.expiresAt.timestamp() * 1000) for item in items]
            pipe.zadd(names.expiry_index, {  # one command for the whole batch
                expiry_member(i.notification.tenantId, i.notification.userId, i.notification.id):
                    ms for i, ms in zip(items, expires_ms, strict=True)
            }, nx=True)
            for item, expires in zip(items, expires_ms, strict=True):
                n = item.notification
                t, u = n.tenantId, n.userId
                digest = item.semantic_digest
                created_ms = int(n.createdAt.timestamp() * 1000)
                pipe.evalsha(
                    self._buffer_sha, 5,
                    names.seen_key(t, u, n.id),
                    names.pending_hash(t, u),
                    names.pending_index(t, u),
                    names.semantic_key(t, u, digest or "none"),
                    names.erased_marker(t, u),
                    n.id,
                    n.model_dump_json(),
                    created_ms,
                    self._dedup_ms,
                    self._semantic_ms if digest else 0,
                    expires + self._grace_ms,
                    names.live_channel(t, u),
                    item.accepted_ms if item.accepted_ms is not None else created_ms,
                )

        results = await self._execute(fill)
        outcomes = [BufferOutcome(int(r)) for r in results[1:]]
        erased = [expiry_member(i.notification.tenantId, i.notification.userId,
                                i.notification.id)
                  for i, o in zip(items, outcomes, strict=True) if o is BufferOutcome.ERASED]
        if erased:
            # The batch's ZADD put them in the expiry index before the scripts said no.
            async with asyncio.timeout(self._timeout):
                await self._redis.zrem(names.expiry_index, *erased)
        return outcomes
