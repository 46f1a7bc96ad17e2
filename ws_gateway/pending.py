"""A user's pending notifications in Redis: read them for replay, acknowledge them.

An ACK adds an ``acked`` entry to the persist stream *before* it removes the notification from
the buffer, in one ordered pipeline: a crash in between leaves the notification both pending
(replayed, maybe acked again) and in the stream (stored once, idempotently) — never neither.
Keys come from the connection's own identity, so an ACK can only touch its own user's
notifications; another user's id is simply not found.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import orjson
from redis.asyncio import Redis

from common.naming import Names
from common.records import Status, encode_entry
from common.redis_pool import as_text

__all__ = ["PendingStore"]

REPLAY_CHUNK = 500


class PendingStore:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    async def count(self, tenant_id: str, user_id: str) -> int:
        return int(await self._redis.zcard(self._names.pending_index(tenant_id, user_id)))

    async def replay(self, tenant_id: str, user_id: str) -> list[tuple[str, str]]:
        """``(id, notification JSON)`` of every pending notification, oldest first.

        Notifications past their ``expiresAt`` are left out: the persister is about to record
        them as ``expired``, and an expired notification is never delivered.
        """
        index = self._names.pending_index(tenant_id, user_id)
        pending = self._names.pending_hash(tenant_id, user_id)
        found: list[tuple[str, str]] = []
        start = 0
        while True:
            ids = [as_text(i) for i in await self._redis.zrange(index, start,
                                                                start + REPLAY_CHUNK - 1)]
            if not ids:
                return found
            bodies = await self._redis.hmget(pending, ids)
            now = time.time()
            found.extend((i, as_text(b)) for i, b in zip(ids, bodies, strict=True)
                         if b and not _expired(b, now))
            if len(ids) < REPLAY_CHUNK:
                return found
            start += REPLAY_CHUNK

    async def ack(
        self, tenant_id: str, user_id: str, ids: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """Acknowledge ``ids`` of this user: ``(acked now, not pending for this user)``."""
        pending = self._names.pending_hash(tenant_id, user_id)
        bodies = await self._redis.hmget(pending, list(ids))
        found = [(i, as_text(b)) for i, b in zip(ids, bodies, strict=True) if b]
        unknown = [i for i, b in zip(ids, bodies, strict=True) if not b]
        if found:
            now_ms = int(time.time() * 1000)
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, body in found:
                    pipe.xadd(self._names.persist_stream,
                              encode_entry(body, Status.ACKED, now_ms))  # type: ignore[arg-type]
                acked_ids = [i for i, _ in found]
                pipe.hdel(pending, *acked_ids)
                pipe.zrem(self._names.pending_index(tenant_id, user_id), *acked_ids)
                await pipe.execute()
        return [i for i, _ in found], unknown


def _expired(body: str | bytes, now: float) -> bool:
    try:
        expires = datetime.fromisoformat(orjson.loads(body)["expiresAt"]).timestamp()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return False  # unreadable here; the client may still make sense of it
    return expires <= now

