"""Erasing one user from Redis (GDPR), and the tombstone that keeps them erased.

The Redis side of the erasure contract, owned with the rest of the schema (scripts
``erase.lua`` and ``fold.lua``); :mod:`common.erasure` keeps the pure rules and re-exports
these classes. What Herald holds in Redis for a user
``(tenant, user)``, and what :meth:`RedisErasure.erase` does with it:

* the pending notifications (hash ``pending``, replay order ``order``): deleted, in one Lua
  script that also writes the **tombstone** ``{prefix}:erased:{tenant:user}`` (a hash: ``at``
  = the erasure time in epoch ms, plus one field per notification id that was pending or
  had been made before — the "already made" markers, folded in);
* their members of the global expiry index, and those of the acked notifications whose
  members are still there (found through the markers below): removed (``ZREM``, another
  slot);
* their rate-limit window as an actor (the ids of events they sent, for a minute), and their
  inbox-state counter (``inboxseq``, :mod:`common.inbox`): deleted in the same script;
* the "already made" markers (``seen``), semantic-window markers (``sem``) and open digests
  (``digest``, :mod:`common.buffer.digest`): found with
  ``SCAN MATCH`` in pages of :data:`SCAN_COUNT`, folded into the tombstone and deleted, one
  script per page (the markers and the tombstone share the user's hash tag);
* the persist stream's entries of the user: read in pages of :data:`STREAM_PAGE` up to the
  last id at the start, and ``XDEL``-ed.

Why a tombstone: RabbitMQ may redeliver an event accepted before the erasure, the
dead-letter queue may replay one, and a client may re-send the same ``eventId``. The
consumer's buffering script (``buffer.lua``, :mod:`common.buffer.inbox`) reads the tombstone
atomically with everything else of that recipient and makes nothing when the event was
accepted at or before ``at`` or when the notification id is one of the tombstone's fields.
Notifications of events accepted after the erasure are made as usual (the user may still use
the app).

The persisters cannot run that script (the stream holds every user), so the erasure also
writes ``tenant|user`` → ``at`` into one global sorted set, ``{prefix}:erasures``
(:class:`ErasureIndex`), *before* touching anything else. A persister asks it with one
``ZMSCORE`` before it writes a batch (and drops, then ``XDEL``s, the entries of notifications
created at or before ``at``: an ACK that raced the erasure) and again after the store
confirmed the write (a write that was in flight while the erasure deleted the user's rows is
erased again: :func:`stale_rows`).

Lifetime: the tombstone and the index member live ``ERASURE_TOMBSTONE_SECONDS`` (30 days by
default). That must be longer than ``DEDUP_TTL_SECONDS`` (the consumer's own memory of what it
made) and than any event may wait in RabbitMQ or its dead-letter queue; past it, a replay of
an event accepted before the erasure would notify again. They hold the user's id and
notification ids (UUIDs), no content.

Times: ``at`` is Redis's clock (``TIME``); ``acceptedAt`` is the producer's and ``createdAt``
the consumer's. Clocks apart by *d* make the rule exact up to *d* around the erasure.

Failures: every method raises ``RedisError``/``OSError``/``TimeoutError`` when Redis fails;
each step is idempotent, so the caller answers 503 and the client repeats the erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from common.buffer.formats import entry_belongs, erasure_member, expiry_member
from common.buffer.held import HeldBuffer
from common.buffer.keys import BufferKeys
from common.buffer.pending import PendingStore
from common.buffer.scripts import ERASE, FOLD, INDEX_ERASURE, call
from common.redis_pool import as_text

__all__ = [
    "DEFAULT_TOMBSTONE_SECONDS",
    "SCAN_COUNT",
    "STREAM_PAGE",
    "ErasureIndex",
    "RedisErased",
    "RedisErasure",
]

DEFAULT_TOMBSTONE_SECONDS = 30 * 86400
SCAN_COUNT = 1000
STREAM_PAGE = 1000
_CHUNK = 500

@dataclass(frozen=True, slots=True)
class RedisErased:
    """What one erasure found and removed in Redis."""

    at_ms: int
    pending: int
    markers: int
    stream: int


class RedisErasure:
    """Erase a user from Redis, or read what Redis holds of them (for an export)."""

    def __init__(self, redis: Redis, names: BufferKeys, tombstone_seconds: float) -> None:
        self._redis = redis
        self._names = names
        self._ttl_ms = int(tombstone_seconds * 1000)
        self._pending = PendingStore(redis, names)
        self._held = HeldBuffer(redis, names)

    async def _now_ms(self) -> int:
        seconds, micros = await self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def erase(self, tenant_id: str, user_id: str) -> RedisErased:
        """Everything of the user in Redis, in the order the module docstring gives (the
        persisters' index first, the stream last). Idempotent; a repeat moves ``at`` on."""
        names = self._names
        at_ms = await self._now_ms()
        # the index member, kept a lifetime after the last write (index_erasure.lua)
        await call(self._redis, INDEX_ERASURE, [names.erasure_index],
                   [erasure_member(tenant_id, user_id), at_ms, self._ttl_ms])
        raw: Any = await call(
            self._redis, ERASE,
            [names.pending_hash(tenant_id, user_id), names.pending_index(tenant_id, user_id),
             names.erased_marker(tenant_id, user_id), names.rate_limit_key(tenant_id, user_id),
             names.inbox_seq(tenant_id, user_id)],
            [at_ms, self._ttl_ms],
        )
        ids = [as_text(i) for i in raw]
        # held for quiet hours: never released (the tombstone would stop them too)
        await self._held.unhold(tenant_id, user_id)
        markers, made = await self._erase_markers(tenant_id, user_id)
        # Acked notifications keep their expiry member until it falls due; every member has
        # an "already made" marker (DEDUP_TTL_SECONDS >= the TTL), so these are all of them,
        # but for a notification made since the erasure (pending now: it must still expire).
        made = await self._not_pending(tenant_id, user_id, made)
        members = sorted({expiry_member(tenant_id, user_id, i) for i in (*ids, *made)})
        for start in range(0, len(members), _CHUNK):
            await self._redis.zrem(names.expiry_index, *members[start:start + _CHUNK])
        stream = await self.erase_stream_entries(tenant_id, user_id)
        return RedisErased(at_ms, len(ids), markers, stream)

    async def _not_pending(self, tenant_id: str, user_id: str, ids: list[str]) -> list[str]:
        pending_hash = self._names.pending_hash(tenant_id, user_id)
        gone: list[str] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            bodies: Any = await self._redis.hmget(pending_hash, chunk)
            gone.extend(i for i, body in zip(chunk, bodies, strict=True) if not body)
        return gone

    async def _erase_markers(self, tenant_id: str, user_id: str) -> tuple[int, list[str]]:
        """Fold the "already made" markers into the tombstone and delete them, the
        semantic-window markers and the open digests' states (:mod:`common.buffer.digest`);
        (keys deleted, notification ids of the markers)."""
        names = self._names
        tomb = names.erased_marker(tenant_id, user_id)
        seen = names.seen_pattern(tenant_id, user_id)
        sem = names.semantic_pattern(tenant_id, user_id)
        digests = names.digest_pattern(tenant_id, user_id)
        deleted = 0
        made: list[str] = []
        for pattern, has_id in ((seen, True), (sem, False), (digests, False)):
            page: list[str] = []
            async for key in self._redis.scan_iter(match=pattern, count=SCAN_COUNT):
                page.append(as_text(key))
                if len(page) >= _CHUNK:
                    deleted += await self._fold_page(tomb, page, has_id, made)
                    page = []
            if page:
                deleted += await self._fold_page(tomb, page, has_id, made)
        return deleted, made

    async def _fold_page(self, tomb: str, keys: list[str], has_id: bool,
                         made: list[str]) -> int:
        ids = [self._names.seen_id(k) if has_id else "" for k in keys]
        made.extend(i for i in ids if i)
        result: Any = await call(self._redis, FOLD, [tomb, *keys], [self._ttl_ms, *ids])
        return int(result)

    async def erase_stream_entries(self, tenant_id: str, user_id: str) -> int:
        """``XDEL`` the user's entries from the shared persist stream, read in pages of
        :data:`STREAM_PAGE` up to its last id when the scan starts (entries added later are
        the persisters' to drop: :class:`ErasureIndex`). The number deleted."""
        key = self._names.persist_stream_of(tenant_id, user_id)
        last: Any = await self._redis.xrevrange(key, "+", "-", count=1)
        if not last:
            return 0
        end = as_text(last[0][0])
        needle_user = orjson.dumps({"userId": user_id})[1:-1]
        start = "-"
        deleted = 0
        while True:
            page: Any = await self._redis.xrange(key, start, end, count=STREAM_PAGE)
            if not page:
                return deleted
            mine = [as_text(i) for i, fields in page
                    if entry_belongs(fields, needle_user, tenant_id, user_id)]
            if mine:
                deleted += int(await self._redis.xdel(key, *mine))
            if len(page) < STREAM_PAGE:
                return deleted
            start = "(" + as_text(page[-1][0])

    async def pending(self, tenant_id: str, user_id: str, limit: int) -> list[bytes]:
        """Up to ``limit`` pending notifications (JSON), oldest first, expired ones too (an
        export shows everything held)."""
        found = await self._pending.replay(tenant_id, user_id, include_expired=True, limit=limit)
        return [body.encode() for _, body in found]

    async def tombstone_at(self, tenant_id: str, user_id: str) -> int | None:
        """The user's erasure time (epoch ms), or ``None`` if no live tombstone."""
        raw = await self._redis.hget(self._names.erased_marker(tenant_id, user_id), "at")
        return int(raw) if raw is not None else None


class ErasureIndex:
    """The persisters' (and the read API's) view of erasures: ``(tenant, user)`` → ``at``."""

    def __init__(self, redis: Redis, names: BufferKeys) -> None:
        self._redis = redis
        self._key = names.erasure_index

    async def erased_at(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The erasure time of each pair that has one (one ``ZMSCORE``)."""
        wanted = list(dict.fromkeys(pairs))
        if not wanted:
            return {}
        scores: Any = await self._redis.zmscore(self._key,
                                                [erasure_member(t, u) for t, u in wanted])
        return {pair: int(score) for pair, score in zip(wanted, scores, strict=True)
                if score is not None}
