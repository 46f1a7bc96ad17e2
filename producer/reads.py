"""The read API: a user's history (pending from Redis merged with the store), the unread
count, and mark-read.

History is newest first by ``(createdAt in ms, id)``; the cursor is that pair of the last item
returned, so pages stay stable while new notifications arrive. A notification can briefly be
both pending and stored (an ACK is written to the persist stream before it leaves the buffer):
the stored copy wins.

Marking a pending notification read also acknowledges it: it is written to the store as
``acked`` with ``readAt`` first, then removed from the buffer (a crash in between leaves it
pending and stored; a later ACK merges, keeping ``readAt``). If the user was erased while
that write was in flight (:mod:`common.erasure`), the write is erased again and the answer is
"not found". Mark-all-read does the same for every pending notification of the user (in
chunks of :data:`CHUNK`), then sets ``readAt`` on every stored one that has none.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from common.erasure import ErasureIndex
from common.models import Notification, utc_now
from common.naming import Names
from common.records import Status, StoredNotification
from common.redis_pool import as_text
from common.store.base import Store
from common.store.cursor import encode_cursor
from common.store.rules import from_ms
from producer.store_holder import StoreHolder

__all__ = ["CHUNK", "Cursor", "History", "to_json"]

CHUNK = 500  # pending notifications written to the store per call by mark-all-read

Cursor = tuple[int, str]
"""``(createdAt epoch ms, notification id)`` of the last item of a page (the store's cursor
format, :mod:`common.store.cursor`, so one cursor serves both sources)."""


def created_ms(notification: Notification) -> int:
    return int(notification.createdAt.timestamp() * 1000)


def _key(record: StoredNotification) -> Cursor:
    return created_ms(record.notification), record.notification.id


class History:
    def __init__(self, redis: Redis, names: Names, holder: StoreHolder) -> None:
        self._redis = redis
        self._names = names
        self._holder = holder
        self._erasures = ErasureIndex(redis, names)

    @property
    def _store(self) -> Store:
        return self._holder.store

    async def _pending(
        self, tenant_id: str, user_id: str, before: Cursor | None, limit: int
    ) -> list[StoredNotification]:
        index = self._names.pending_index(tenant_id, user_id)
        top: str | int = "+inf" if before is None else before[0]
        # Ties on the same millisecond come back by id, descending, as the store orders them.
        raw = await self._redis.zrevrangebyscore(index, top, "-inf", start=0, num=limit + 64)
        ids = [as_text(i) for i in raw]
        if not ids:
            return []
        bodies = await self._redis.hmget(self._names.pending_hash(tenant_id, user_id), ids)
        records = []
        for body in bodies:
            if not body:
                continue
            note = Notification.model_validate_json(body)
            record = StoredNotification(notification=note, status=Status.PENDING,
                                        statusAt=note.createdAt)
            if before is None or _key(record) < before:
                records.append(record)
        return records

    async def page(
        self, tenant_id: str, user_id: str, limit: int, cursor: Cursor | None
    ) -> tuple[list[StoredNotification], Cursor | None]:
        pending = await self._pending(tenant_id, user_id, cursor, limit)
        stored, _ = await self._store.history(
            tenant_id, user_id, limit + 1, encode_cursor(*cursor) if cursor else None
        )
        merged: dict[str, StoredNotification] = {r.notification.id: r for r in pending}
        merged.update({r.notification.id: r for r in stored})  # the stored copy wins
        ordered = sorted(merged.values(), key=_key, reverse=True)
        page = ordered[:limit]
        more = len(ordered) > limit
        return page, (_key(page[-1]) if more and page else None)

    async def unread(self, tenant_id: str, user_id: str) -> int:
        pending = await self._redis.zcard(self._names.pending_index(tenant_id, user_id))
        return int(pending) + await self._store.unread_count(tenant_id, user_id)

    async def mark_read(self, tenant_id: str, user_id: str, notification_id: str) -> bool:
        now = utc_now()
        pending_hash = self._names.pending_hash(tenant_id, user_id)
        body = await self._redis.hget(pending_hash, notification_id)
        if body:
            note = Notification.model_validate_json(body)
            await self._store.upsert_many([StoredNotification(
                notification=note, status=Status.ACKED, statusAt=now, readAt=now)])
            erased = (await self._erasures.erased_at([(tenant_id, user_id)])).get(
                (tenant_id, user_id))
            if erased is not None and created_ms(note) <= erased:
                await self._store.erase_user(tenant_id, user_id, created_until=from_ms(erased))
                return False
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hdel(pending_hash, notification_id)
                pipe.zrem(self._names.pending_index(tenant_id, user_id), notification_id)
                await pipe.execute()
            return True
        return await self._store.mark_read(tenant_id, user_id, notification_id, now)

    async def mark_all_read(self, tenant_id: str, user_id: str) -> int:
        """Every unread notification of the user read (pending ones acknowledged too); how
        many were marked. Notifications that arrive meanwhile may or may not be included."""
        now = utc_now()
        pending_hash = self._names.pending_hash(tenant_id, user_id)
        pending_index = self._names.pending_index(tenant_id, user_id)
        ids = [as_text(i) for i in await self._redis.zrange(pending_index, 0, -1)]
        erased = (await self._erasures.erased_at([(tenant_id, user_id)])).get(
            (tenant_id, user_id))
        marked = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            bodies = await self._redis.hmget(pending_hash, chunk)
            notes = [Notification.model_validate_json(b) for b in bodies if b]
            live = [n for n in notes if erased is None or created_ms(n) > erased]
            if live:
                await self._store.upsert_many([StoredNotification(
                    notification=n, status=Status.ACKED, statusAt=now, readAt=now)
                    for n in live])
            marked += len(live)
            done = [n.id for n in live]
            if done:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hdel(pending_hash, *done)
                    pipe.zrem(pending_index, *done)
                    await pipe.execute()
        erased = (await self._erasures.erased_at([(tenant_id, user_id)])).get(
            (tenant_id, user_id))
        if erased is not None:  # an erasure may have raced the writes above: erase again
            await self._store.erase_user(tenant_id, user_id, created_until=from_ms(erased))
        return marked + await self._store.mark_all_read(tenant_id, user_id, now)


def to_json(record: StoredNotification) -> dict[str, Any]:
    """A notification as the API shows it: the wire fields plus ``status`` and ``readAt``."""
    body = record.notification.model_dump(mode="json")
    body["status"] = record.status.value
    body["readAt"] = record.readAt.isoformat().replace("+00:00", "Z") if record.readAt else None
    return body

