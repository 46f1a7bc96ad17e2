"""One user's pending notifications: read them (gateway replay, read API), acknowledge them
(gateway ACK), mark them read (read API), count them.

An ACK is one script per user (``ack.lua``): read the bodies, ``XADD`` an ``acked`` entry for
each one found, then remove them — so "the stream entry exists before the notification
leaves the buffer" holds by construction, and a crash can only come before the script (all
still pending: the client sends the ACK again) or after it (all done). ACKs of many users go
in one round trip (:meth:`PendingStore.ack_many`, fed by :mod:`ws_gateway.ack_batcher`).
Marking seen, read or archived is the same script with ``v``, ``r``, ``a`` on the entry (the
states the mark implies, :class:`common.records.Mark`): the persister stores it as ``acked``
with them. **Any mark of a pending notification acknowledges it** (it was shown), so a
pending notification is always unseen and unread, and counts as such.

Keys come from the caller's own identity, so an ACK can only touch its own user's
notifications; another user's id is simply not found.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.buffer.formats import encode_entry
from common.buffer.keys import BufferKeys
from common.buffer.scripts import ACK, NEWEST, REPLAY, RoundTrip, call
from common.models import Notification
from common.records import Mark, Status
from common.redis_pool import as_text

__all__ = ["REPLAY_CHUNK", "AckOutcome", "AckRequest", "PendingStore"]

REPLAY_CHUNK = 500

# What became of one request: (acked now, not pending for this user), or why not recorded.
AckOutcome = tuple[list[str], list[str]] | RedisError


@dataclass(frozen=True, slots=True)
class AckRequest:
    """Ids to acknowledge, of the pending notifications of one user (their own keys only)."""

    tenant_id: str
    user_id: str
    ids: tuple[str, ...]


def _pairs(flat: Any) -> list[tuple[str, bytes | None]]:
    return [(as_text(flat[i]), flat[i + 1] or None) for i in range(0, len(flat), 2)]


class PendingStore:
    def __init__(self, redis: Redis, keys: BufferKeys, timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._timeout = timeout_seconds

    async def count(self, tenant_id: str, user_id: str) -> int:
        trip = RoundTrip()
        trip.command("ZCARD", self._keys.pending_index(tenant_id, user_id))
        return int(await trip.one(self._redis, self._timeout))

    async def replay(self, tenant_id: str, user_id: str, *, include_expired: bool = False,
                     limit: int | None = None) -> list[tuple[str, str]]:
        """``(id, notification JSON)`` of the pending notifications, oldest first, one round
        trip per :data:`REPLAY_CHUNK`.

        Notifications past their ``expiresAt`` are left out unless ``include_expired`` (an
        export shows everything held): the persister is about to record them as
        ``expired``, and an expired notification is never delivered.
        """
        keys = [self._keys.pending_index(tenant_id, user_id),
                self._keys.pending_hash(tenant_id, user_id)]
        found: list[tuple[str, str]] = []
        start = 0
        while limit is None or len(found) < limit:
            flat = await call(self._redis, REPLAY, keys, [start, REPLAY_CHUNK], self._timeout)
            pairs = _pairs(flat)
            now = time.time()
            found.extend((i, as_text(b)) for i, b in pairs
                         if b and (include_expired or not _expired(b, now)))
            if len(pairs) < REPLAY_CHUNK:
                break
            start += REPLAY_CHUNK
        return found if limit is None else found[:limit]

    async def newest(self, tenant_id: str, user_id: str, top_ms: int | None,
                     count: int) -> list[tuple[str, bytes]]:
        """Up to ``count`` ``(id, body)`` created at or before ``top_ms`` (``None``: any),
        newest first, ties by id descending (the read API's history), one round trip."""
        keys = [self._keys.pending_index(tenant_id, user_id),
                self._keys.pending_hash(tenant_id, user_id)]
        top: str | int = "+inf" if top_ms is None else top_ms
        flat = await call(self._redis, NEWEST, keys, [top, count], self._timeout)
        return [(i, b) for i, b in _pairs(flat) if b]

    async def ack_many(self, requests: Sequence[AckRequest]) -> list[AckOutcome]:
        """Acknowledge several users' ids in one round trip, one ``ack.lua`` per request.

        Returns one outcome per request, in order: ``(acked now, unknown)``, or the
        :class:`RedisError` that kept it from being recorded (then nothing of it was
        removed). Raises :class:`RedisError` (or ``OSError``/``TimeoutError``) if the round
        trip itself failed: any request may or may not be done; a repeat is safe (what was
        done is no longer pending: ``unknown``)."""
        return await self._ack(requests, None, 0)

    async def _ack(self, requests: Sequence[AckRequest], mark: Mark | None, at_ms: int
                   ) -> list[AckOutcome]:
        if not requests:
            return []
        keys = self._keys
        now_ms = int(time.time() * 1000)
        sets = mark.sets if mark is not None else ()
        states = ["" if state not in sets else at_ms for state in ("read", "seen", "archived")]
        trip = RoundTrip()
        for request in requests:
            trip.script(ACK, [keys.pending_hash(request.tenant_id, request.user_id),
                              keys.pending_index(request.tenant_id, request.user_id),
                              keys.persist_stream_of(request.tenant_id, request.user_id)],
                        [now_ms, *states, *request.ids])
        try:
            replies = await trip.run(self._redis, self._timeout)
        except TimeoutError as exc:  # the round trip's deadline: say it as Redis would
            raise RedisTimeoutError(f"ack round trip over {self._timeout} s") from exc
        outcomes: list[AckOutcome] = []
        for request, reply in zip(requests, replies, strict=True):
            if isinstance(reply, Exception):
                outcomes.append(reply if isinstance(reply, RedisError)
                                else RedisError(repr(reply)))
                continue
            acked = [as_text(i) for i in reply]
            done = set(acked)
            outcomes.append((acked, [i for i in request.ids if i not in done]))
        return outcomes

    async def mark_read(self, tenant_id: str, user_id: str, notification_id: str,
                        read_ms: int) -> bool:
        """Acknowledge one pending notification as read at ``read_ms`` (its ``acked`` entry
        carries ``r``); ``False`` if it is not pending for this user. Raises on a Redis
        error (then it is still pending, or done: a repeat is safe)."""
        return bool(await self.mark(tenant_id, user_id, [notification_id], Mark.READ, read_ms))

    async def mark(self, tenant_id: str, user_id: str, notification_ids: Sequence[str],
                   mark: Mark, at_ms: int) -> list[str]:
        """Acknowledge those of the ids pending for this user, their entries carrying the
        states ``mark`` sets (``UNARCHIVED`` sets none: a pending notification is never
        archived, and it stays pending); the ids that were pending. :data:`REPLAY_CHUNK` ids
        per script, one round trip. Raises on a Redis error (a repeat is safe)."""
        if mark is Mark.UNARCHIVED:
            return []
        ids = list(dict.fromkeys(notification_ids))
        requests = [AckRequest(tenant_id, user_id, tuple(ids[start:start + REPLAY_CHUNK]))
                    for start in range(0, len(ids), REPLAY_CHUNK)]
        marked: list[str] = []
        for outcome in await self._ack(requests, mark, at_ms):
            if isinstance(outcome, RedisError):
                raise outcome
            marked += outcome[0]
        return marked

    async def listed(self, tenant_id: str, user_id: str) -> list[str]:
        """The ids pending for the user now (the high-water mark of a "mark all")."""
        trip = RoundTrip()
        trip.command("ZRANGE", self._keys.pending_index(tenant_id, user_id), 0, -1)
        return [as_text(i) for i in await trip.one(self._redis, self._timeout)]

    async def mark_all_read(self, tenant_id: str, user_id: str, read_ms: int) -> int:
        """Acknowledge as read every notification pending for the user when it begins (their
        ``acked`` entries carry ``r`` and ``v``); how many. One that arrives meanwhile stays
        pending, unread."""
        ids = await self.listed(tenant_id, user_id)
        return len(await self.mark(tenant_id, user_id, ids, Mark.READ, read_ms))

    async def record_read(self, notification: Notification, status: Status, status_ms: int,
                          read_ms: int) -> None:
        """Add the entry that marks an already stored notification read: its own status and
        status time, ``r`` and ``v`` (read implies seen), to its user's shard stream. The
        persister's upsert keeps the first ``readAt`` and ``seenAt``."""
        trip = RoundTrip()
        fields = encode_entry(notification.model_dump_json(), status, status_ms, read_ms,
                              read_ms)
        trip.command("XADD", self._keys.persist_stream_of(notification.tenantId,
                                                          notification.userId),
                     "*", *[x for kv in fields.items() for x in kv])
        await trip.one(self._redis, self._timeout)


def _expired(body: str | bytes, now: float) -> bool:
    try:
        expires = datetime.fromisoformat(orjson.loads(body)["expiresAt"]).timestamp()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return False  # unreadable here; the client may still make sense of it
    return expires <= now
