"""A user's pending notifications in Redis: read them for replay, acknowledge them.

An ACK adds an ``acked`` entry to the persist stream, and removes the notification from the
buffer only once Redis has confirmed that entry: a crash in between leaves the notification
both pending (replayed, maybe acked again) and in the stream (stored once, idempotently) —
never neither. ACKs of many connections go through in the same few round trips
(:meth:`PendingStore.ack_many`, fed by :mod:`ws_gateway.ack_batcher`).
Keys come from the connection's own identity, so an ACK can only touch its own user's
notifications; another user's id is simply not found.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.naming import Names
from common.records import Status, encode_entry
from common.redis_pool import as_text
from common.telemetry import TRACE

__all__ = ["AckOutcome", "AckRequest", "PendingStore"]

REPLAY_CHUNK = 500

# What became of one request: (acked now, not pending for this user), or why not recorded.
AckOutcome = tuple[list[str], list[str]] | RedisError


@dataclass(frozen=True, slots=True)
class AckRequest:
    """Ids to acknowledge, of the pending notifications of one user (their own keys only)."""

    tenant_id: str
    user_id: str
    ids: tuple[str, ...]


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

    async def ack_many(self, requests: Sequence[AckRequest]) -> list[AckOutcome]:
        """Acknowledge several users' ids in three round trips, whatever their number.

        1. ``HMGET`` each request's ids from its own user's pending hash (another user's id
           is simply not found there: ``unknown``);
        2. ``XADD`` an ``acked`` entry to the persist stream for each one found;
        3. only for the requests whose every ``XADD`` succeeded, ``HDEL``/``ZREM`` them.

        The check between 2 and 3 is why they are separate round trips: in one pipeline a
        failed ``XADD`` (say, Redis out of memory: ``HDEL`` is still allowed then) would not
        stop the ``HDEL`` after it, and the notification would be gone without its record.

        Returns one outcome per request, in order: ``(acked now, unknown)``, or the
        :class:`RedisError` that kept it from being recorded (nothing of it was removed).
        Raises :class:`RedisError` if step 1 fails (nothing was done).
        """
        names = self._names
        async with self._redis.pipeline(transaction=False) as pipe:
            for request in requests:
                pipe.hmget(names.pending_hash(request.tenant_id, request.user_id),
                           list(request.ids))
            replies = await pipe.execute()
        found: list[list[tuple[str, str]]] = []
        outcomes: list[AckOutcome] = []
        for request, bodies in zip(requests, replies, strict=True):
            mine = [(i, as_text(b)) for i, b in zip(request.ids, bodies, strict=True) if b]
            found.append(mine)
            outcomes.append(([i for i, _ in mine],
                             [i for i, b in zip(request.ids, bodies, strict=True) if not b]))
        if not any(found):
            return outcomes

        now_ms = int(time.time() * 1000)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for mine in found:
                    for _, body in mine:
                        pipe.xadd(names.persist_stream, encode_entry(  # type: ignore[arg-type]
                            body, Status.ACKED, now_ms))
                added = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            return [exc if mine else outcome for mine, outcome in zip(found, outcomes,
                                                                      strict=True)]
        recorded: list[int] = []
        position = 0
        for n, mine in enumerate(found):
            failed = next((r for r in added[position:position + len(mine)]
                           if isinstance(r, Exception)), None)
            position += len(mine)
            if failed is not None:
                outcomes[n] = failed if isinstance(failed, RedisError) else RedisError(
                    repr(failed))
            elif mine:
                recorded.append(n)
        if not recorded:
            return outcomes

        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for n in recorded:
                    request, ids = requests[n], [i for i, _ in found[n]]
                    pipe.hdel(names.pending_hash(request.tenant_id, request.user_id), *ids)
                    pipe.zrem(names.pending_index(request.tenant_id, request.user_id), *ids)
                removed = await pipe.execute(raise_on_error=False)
        except RedisError as exc:
            # Recorded, maybe not removed: the client resends, and its second entry is a
            # duplicate the store absorbs (as after a crash between the two steps).
            removed = [exc] * (2 * len(recorded))
        for k, n in enumerate(recorded):
            failed = next((r for r in removed[2 * k:2 * k + 2] if isinstance(r, Exception)),
                          None)
            if failed is not None:
                outcomes[n] = failed if isinstance(failed, RedisError) else RedisError(
                    repr(failed))
        TRACE.mark_bodies("acked", (body for n in recorded if not isinstance(outcomes[n], Exception)
                                    for _, body in found[n]), now_ms)
        return outcomes


def _expired(body: str | bytes, now: float) -> bool:
    try:
        expires = datetime.fromisoformat(orjson.loads(body)["expiresAt"]).timestamp()
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return False  # unreadable here; the client may still make sense of it
    return expires <= now

