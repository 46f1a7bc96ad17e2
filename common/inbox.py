"""A user's inbox states over both places a notification lives (issue 20): the buffer
(pending, Redis) and the store. The one module that marks, counts and announces; the read
API (``producer/reads``) and the gateway's client frames both call it.

The rules (the states' own rules are :mod:`common.records`'):

* **A pending notification is unseen and unread**, always: any mark of it (seen, read,
  archived) acknowledges it (:meth:`common.buffer.pending.PendingStore.mark`: one script
  writes its ``acked`` entry with the states and removes it from the buffer), and its row is
  then upserted into the store at once (the persister's later upsert of the same entry
  changes nothing: the merge keeps each state), so the marked notification is counted as
  marked from the moment the call returns, not when the persister gets to it. Unarchiving a
  pending notification does nothing (it was never archived).
* **Counts** = the user's pending notifications (``ZCARD``, all unseen and unread) plus the
  store's unseen and unread (:meth:`common.store.base.Store.counts`; archived ones are read,
  so never counted). A stored mark is one atomic statement in the store, so a count read
  after it includes it.
* **Mark all** takes a high-water mark: the ids pending when it begins (``ZRANGE``) and the
  stored notifications created at or before its start. A notification buffered during it is
  not in the list and is created after the start: it stays unseen and unread.
* **Announce**: after every mark that changed something, ``INCR`` the user's
  :meth:`~common.buffer.keys.BufferKeys.inbox_seq`, *then* read the counts, then publish
  ``{"inbox": {...}}`` on the user's live channel (the one every gateway process subscribes
  to for a connected user: every connection of the user gets it as ``INBOX_STATE``). The
  counts of a higher ``seq`` were read after every mark of a lower one had completed, so a
  client that drops any state whose ``seq`` is not above the last it showed never shows
  older counts after newer ones.

Known gap (stated in the README): an *unmarked* notification leaving the buffer (a plain
ACK, expiry, the cap) is in the persist stream for a few milliseconds before the persister
stores it; a count read in that window misses it, and the next announced count has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.pending import PendingStore
from common.buffer.scripts import RoundTrip
from common.millis import to_ms
from common.models import Notification, utc_now
from common.records import InboxCounts, Mark, Status
from common.redis_pool import as_text
from common.rows import make_row
from common.store.base import Store

__all__ = ["MAX_MARK_IDS", "Inbox", "InboxState", "Marked"]

MAX_MARK_IDS = 500
"""The most ids one mark takes (the read API's body, a client frame)."""


@dataclass(frozen=True, slots=True)
class InboxState:
    """What every connection of the user learns after a mark (``INBOX_STATE``)."""

    seq: int
    mark: Mark
    ids: tuple[str, ...] | None
    """The ids marked, or ``None`` for a "mark all"."""
    at: datetime
    counts: InboxCounts

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "mark": self.mark.value,
                "notificationIds": list(self.ids) if self.ids is not None else None,
                "all": self.ids is None,
                "at": self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "unseen": self.counts.unseen, "unread": self.counts.unread}


@dataclass(frozen=True, slots=True)
class Marked:
    """The outcome of a mark: the ids that are the user's (``found``), how many a "mark
    all" changed (``changed``), and the state announced."""

    found: tuple[str, ...]
    changed: int
    state: InboxState


class Inbox:
    def __init__(self, redis: Redis, keys: BufferKeys, store: Store,
                 timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._store = store
        self._pending = PendingStore(redis, keys, timeout_seconds)
        self._timeout = timeout_seconds

    async def counts(self, tenant_id: str, user_id: str) -> InboxCounts:
        pending = await self._pending.count(tenant_id, user_id)
        stored = await self._store.counts(tenant_id, user_id)
        return InboxCounts(stored.unseen + pending, stored.unread + pending)

    async def seq(self, tenant_id: str, user_id: str) -> int:
        """The user's last announced ``seq`` (0: none yet)."""
        trip = RoundTrip()
        trip.command("GET", self._keys.inbox_seq(tenant_id, user_id))
        raw = await trip.one(self._redis, self._timeout)
        return int(raw) if raw is not None else 0

    async def mark(self, tenant_id: str, user_id: str, notification_ids: Sequence[str],
                   mark: Mark) -> Marked:
        """Mark some of the user's notifications (at most :data:`MAX_MARK_IDS`)."""
        ids = list(dict.fromkeys(notification_ids))
        if not 1 <= len(ids) <= MAX_MARK_IDS:
            raise ValueError(f"give 1 to {MAX_MARK_IDS} notification ids, got {len(ids)}")
        at = utc_now()
        pending = await self._mark_pending(tenant_id, user_id, ids, mark, at)
        rest = [i for i in ids if i not in set(pending)]
        stored = await self._store.mark(tenant_id, user_id, rest, mark, at) if rest else []
        found = tuple(i for i in ids if i in set(pending) | set(stored))
        state = await self._announce(tenant_id, user_id, mark, found, at)
        return Marked(found, len(found), state)

    async def mark_all(self, tenant_id: str, user_id: str, mark: Mark) -> Marked:
        """Mark every notification of the user that existed when this began (the
        high-water mark); one that arrives meanwhile is left as it is."""
        at = utc_now()
        listed = await self._pending.listed(tenant_id, user_id)
        pending = await self._mark_pending(tenant_id, user_id, listed, mark, at) \
            if listed else []
        changed = await self._store.mark_all(tenant_id, user_id, mark, at, at)
        state = await self._announce(tenant_id, user_id, mark, None, at)
        return Marked((), len(pending) + changed, state)

    async def _mark_pending(self, tenant_id: str, user_id: str, ids: Sequence[str],
                            mark: Mark, at: datetime) -> list[str]:
        if mark is Mark.UNARCHIVED:
            return []
        # The bodies first (the ack script answers ids only): the rows to store at once.
        trip = RoundTrip()
        trip.command("HMGET", self._keys.pending_hash(tenant_id, user_id), *ids)
        bodies = dict(zip(ids, await trip.one(self._redis, self._timeout), strict=True))
        at_ms = to_ms(at)
        marked = await self._pending.mark(tenant_id, user_id, ids, mark, at_ms)
        states = dict.fromkeys(mark.sets, at_ms)
        rows = [make_row(Notification.model_validate_json(as_text(bodies[i])),
                         Status.ACKED.value, at_ms, states.get("read"), states.get("seen"),
                         states.get("archived"))
                for i in marked if bodies.get(i)]
        if rows:
            await self._store.upsert_rows(rows)
        return marked

    async def _announce(self, tenant_id: str, user_id: str, mark: Mark,
                        ids: tuple[str, ...] | None, at: datetime) -> InboxState:
        trip = RoundTrip()
        trip.command("INCR", self._keys.inbox_seq(tenant_id, user_id))
        seq = int(await trip.one(self._redis, self._timeout))
        state = InboxState(seq, mark, ids, at, await self.counts(tenant_id, user_id))
        publish = RoundTrip()
        publish.command("PUBLISH", self._keys.live_channel(tenant_id, user_id),
                        orjson.dumps({"inbox": state.to_json()}))
        await publish.one(self._redis, self._timeout)
        return state
