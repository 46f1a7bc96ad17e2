"""Building notifications and reading the buffer's state, for the owner's tests
(``tests/integration/test_buffer_*.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from common.buffer.formats import decode_entry
from common.buffer.inbox import NotificationBuffer, Pending
from common.models import Event, Notification
from common.naming import Names
from consumer.rules import build_notifications
from tests.support.events import event_body
from tests.support.replies import entries, texts

__all__ = ["make_buffer", "note", "stream_rows", "user_state"]


def make_buffer(redis: Redis, names: Names, *, limit: int = 10**6, semantic_ms: int = 0,
                max_pending: int = 10_000) -> NotificationBuffer:
    return NotificationBuffer(redis, names.keys, rate_limit_count=limit,
                              rate_limit_window_ms=60_000, semantic_window_ms=semantic_ms,
                              dedup_ttl_ms=600_000, max_pending=max_pending)


def note(event_id: str, user: str = "bob", *, tenant: str = "default", ttl: float = 600,
         actor: str = "alice", **over: Any) -> Notification:
    """The one notification of a LIKE ``event_id`` for ``user``, as the consumer makes it."""
    event = Event.model_validate_json(event_body(event_id, recipients=[user], tenantId=tenant,
                                                 actorId=actor, postId=f"p-{event_id}", **over))
    [made] = build_notifications(event, datetime.now(UTC), ttl)
    return made


def pending(n: Notification, digest: str | None = None) -> Pending:
    return Pending(n, digest)


async def stream_rows(redis: Redis, names: Names) -> list[tuple[str, str, int | None]]:
    """``(notification id, status, read ms)`` of every persist-stream entry (of every
    shard), in the order of their stream ids."""
    raw = [entry for key in names.keys.persist_streams
           for entry in entries(await redis.xrange(key))]
    raw.sort(key=lambda e: tuple(int(x) for x in e[0].split("-")))
    rows = [decode_entry({k.encode(): v.encode() for k, v in fields.items()})
            for _, fields in raw]
    return [(r.id, r.status, r.read_ms) for r in rows]


async def user_state(redis: Redis, names: Names, user: str = "bob",
                     tenant: str = "default") -> tuple[set[str], set[str]]:
    """(ids in the pending hash, ids in the replay order): always equal when consistent."""
    hashed = set(texts(await redis.hkeys(names.keys.pending_hash(tenant, user))))
    ordered = set(texts(await redis.zrange(names.keys.pending_index(tenant, user), 0, -1)))
    return hashed, ordered
