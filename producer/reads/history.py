"""The read API: a user's history (pending from Redis merged with the store), the counts,
and the marks (seen / read / archived, issue 20).

History is newest first by ``(createdAt in ms, id)``; the cursor is that pair of the last item
returned, so pages stay stable while new notifications arrive. A notification can briefly be
both pending and stored (an ACK is written to the persist stream before it leaves the buffer):
the stored copy wins. The default history leaves the archived out; ``archived=True`` shows
only them (from the store: a pending notification is never archived).

Marks and counts are :mod:`common.inbox`'s (its docstring states the rules): a mark of a
pending notification acknowledges it with its states and stores its row at once; a mark of a
stored one is one statement in the store; every mark announces the new counts with the
user's next ``seq`` on the user's live channel (every connection of the user gets it). The
producer writes the store for marks only; the persister's upsert keeps every state once set,
so the two never undo each other.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.pending import PendingStore
from common.inbox import Inbox, Marked
from common.models import Notification
from common.records import InboxCounts, Mark, Status, StoredNotification
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
        self._redis = redis
        self._names = names
        self._holder = holder

    @property
    def inbox(self) -> Inbox:
        """The marks and counts over the buffer and the store (:mod:`common.inbox`)."""
        return Inbox(self._redis, self._names, self._store)

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
        self, tenant_id: str, user_id: str, limit: int, cursor: Cursor | None,
        archived: bool = False,
    ) -> tuple[list[StoredNotification], Cursor | None]:
        # A pending notification is never archived (any mark acknowledges it).
        pending = [] if archived else await self._pending(tenant_id, user_id, cursor, limit)
        stored, _ = await self._store.history(
            tenant_id, user_id, limit + 1, encode_cursor(*cursor) if cursor else None,
            archived=archived,
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
        return (await self.inbox.counts(tenant_id, user_id)).unread

    async def counts(self, tenant_id: str, user_id: str) -> tuple[InboxCounts, int]:
        """The counts and the last announced ``seq`` (read before the counts: the counts
        are at least as new as that ``seq``'s)."""
        inbox = self.inbox
        seq = await inbox.seq(tenant_id, user_id)
        return await inbox.counts(tenant_id, user_id), seq

    async def mark_read(self, tenant_id: str, user_id: str, notification_id: str) -> bool:
        """Mark the user's notification read; ``False`` if they have no such notification.
        Idempotent: the first ``readAt`` is kept."""
        return bool((await self.inbox.mark(tenant_id, user_id, [notification_id],
                                           Mark.READ)).found)

    async def mark_all_read(self, tenant_id: str, user_id: str) -> int:
        """Every notification of the user that existed when this began read (pending ones
        acknowledged too); how many changed. One arriving meanwhile stays unread."""
        return (await self.inbox.mark_all(tenant_id, user_id, Mark.READ)).changed

    async def mark(self, tenant_id: str, user_id: str, ids: list[str], mark: Mark) -> Marked:
        return await self.inbox.mark(tenant_id, user_id, ids, mark)

    async def mark_all(self, tenant_id: str, user_id: str, mark: Mark) -> Marked:
        return await self.inbox.mark_all(tenant_id, user_id, mark)


def to_json(record: StoredNotification) -> dict[str, Any]:
    """A notification as the API shows it: the wire fields plus ``status``, ``seenAt``,
    ``readAt`` and ``archivedAt``."""
    body = record.notification.model_dump(mode="json")
    body["status"] = record.status.value
    for name in ("seenAt", "readAt", "archivedAt"):
        at = getattr(record, name)
        body[name] = at.isoformat().replace("+00:00", "Z") if at else None
    return body

