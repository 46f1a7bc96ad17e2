"""The read API: a user's history (pending from Redis merged with the store), the unread
count, and mark-read.

History is newest first by ``(createdAt in ms, id)``; the cursor is that pair of the last item
returned, so pages stay stable while new notifications arrive. A notification can briefly be
both pending and stored (an ACK is written to the persist stream before it leaves the buffer):
the stored copy wins.

Marking a pending notification read also acknowledges it, through the same path as a
gateway ACK (:meth:`common.buffer.pending.PendingStore.mark_read`: one script writes the
``acked`` entry, with ``r`` = read at, to the persist stream and removes the notification);
marking a stored one read adds an entry with its own status and ``r``. The persister writes
both to the store, which keeps the first ``readAt``; the producer reads the store and never
writes it. So a mark-read shows in the history once the persister has stored it (usually a
few milliseconds), and an erasure racing it is handled where every other entry's is (the
persisters drop and delete entries of erased users, :mod:`common.buffer.erasure`).
Mark-all-read acknowledges every pending notification the same way (one script per
:data:`~common.buffer.pending.REPLAY_CHUNK` ids), then sets ``readAt`` on the stored ones
that have none: that one bulk update is the producer's only write to the store (the
persister's upsert keeps a ``readAt`` once set, so the two never undo each other).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.pending import PendingStore
from common.millis import to_ms
from common.models import Notification, utc_now
from common.records import Status, StoredNotification
from common.store.base import Store
from common.store.cursor import encode_cursor
from producer.store_holder import StoreHolder

__all__ = ["Cursor", "History", "to_json"]

Cursor = tuple[int, str]
"""``(createdAt epoch ms, notification id)`` of the last item of a page (the store's cursor
format, :mod:`common.store.cursor`, so one cursor serves both sources)."""


def created_ms(notification: Notification) -> int:
    return int(notification.createdAt.timestamp() * 1000)


def _key(record: StoredNotification) -> Cursor:
    return created_ms(record.notification), record.notification.id


class History:
    def __init__(self, redis: Redis, names: BufferKeys, holder: StoreHolder) -> None:
        self._buffer = PendingStore(redis, names)
        self._holder = holder

    @property
    def _store(self) -> Store:
        return self._holder.store

    async def _pending(
        self, tenant_id: str, user_id: str, before: Cursor | None, limit: int
    ) -> list[StoredNotification]:
        # Ties on the same millisecond come back by id, descending, as the store orders them.
        found = await self._buffer.newest(tenant_id, user_id,
                                          None if before is None else before[0], limit + 64)
        records = []
        for _, body in found:
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

    async def pending(self, tenant_id: str, user_id: str) -> int:
        """How many notifications of the user wait in the buffer (not yet ACKed or expired)."""
        return await self._buffer.count(tenant_id, user_id)

    async def unread(self, tenant_id: str, user_id: str) -> int:
        pending = await self._buffer.count(tenant_id, user_id)
        return pending + await self._store.unread_count(tenant_id, user_id)

    async def mark_read(self, tenant_id: str, user_id: str, notification_id: str) -> bool:
        """Mark the user's notification read; ``False`` if they have no such notification.
        Idempotent: the first ``readAt`` is kept."""
        now_ms = to_ms(utc_now())
        if await self._buffer.mark_read(tenant_id, user_id, notification_id, now_ms):
            return True
        stored = await self._store.get(tenant_id, user_id, notification_id)
        if stored is None:
            return False
        if stored.readAt is None:
            await self._buffer.record_read(stored.notification, stored.status,
                                           to_ms(stored.statusAt), now_ms)
        return True

    async def mark_all_read(self, tenant_id: str, user_id: str) -> int:
        """Every unread notification of the user read (pending ones acknowledged too); how
        many were marked. Notifications that arrive meanwhile may or may not be included."""
        now = utc_now()
        pending = await self._buffer.mark_all_read(tenant_id, user_id, to_ms(now))
        return pending + await self._store.mark_all_read(tenant_id, user_id, now)


def to_json(record: StoredNotification) -> dict[str, Any]:
    """A notification as the API shows it: the wire fields plus ``status`` and ``readAt``."""
    body = record.notification.model_dump(mode="json")
    body["status"] = record.status.value
    body["readAt"] = record.readAt.isoformat().replace("+00:00", "Z") if record.readAt else None
    return body

