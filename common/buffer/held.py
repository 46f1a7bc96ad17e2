"""The held buffer: notifications made while their recipient is in quiet hours, kept in Redis
(not in the pending buffer, not visible to the user) until the quiet hours end.

Schema (:mod:`common.buffer.keys`), per shard ``N`` and so in the shard's one slot:

* ``{prefix}:held:{N}`` — ZSET, member :func:`held_member` (``tenant|user|notification id``),
  score the release time in epoch ms (while a releaser holds it: the end of its claim);
* ``{prefix}:heldbody:{N}`` — HASH member -> the entry JSON (:func:`encode_held`): the event
  exactly as the consumer received it, when it was held and the release it was held for;
* ``{prefix}:heldu:{N}:tenant:user`` — SET of the user's members: the per-user index that
  :meth:`HeldBuffer.reschedule` walks when a user's time zone or quiet hours change.

The life of a held notification, and why nothing is lost or made twice:

1. :meth:`HeldBuffer.hold` (``hold.lua``) — idempotent on the notification id: a second hold
   changes nothing; one whose "already made" marker exists (a redelivery after the release)
   or whose recipient was erased is not held. The consumer acks the event only after this.
2. :meth:`HeldBuffer.due` — reads the due members of every shard (plain ``ZRANGEBYSCORE``),
   keeps the earliest ``limit`` of them, and claims those (``claim.lua``): their score becomes
   the claim's end, so another releaser does not take them meanwhile. Bounded: at most
   ``limit`` entries per call.
3. The caller makes the notifications (the consumer's pipeline, with the buffer's
   ``buffer.lua`` and its "already made" marker), then :meth:`HeldBuffer.done`
   (``done.lua``) forgets those still as claimed.

A releaser killed between 2 and 3 leaves the claims; when they lapse the entries are due
again and are taken again: made already, the "already made" marker makes the second making
a no-op, and ``done`` then forgets them. An entry moved (rescheduled) while claimed keeps
its new release: ``done`` forgets only entries whose score is still the claim's end.
The keys have no TTL: a held notification leaves only through ``done`` or :meth:`unhold`
(erasure). They are plain Redis keys, persisted (AOF/RDB) like the pending buffer.

Memory: ``hold.lua`` grows memory and has no ``allow-oom`` (a full Redis refuses it and the
event stays in RabbitMQ); ``claim``, ``done``, ``move`` and ``unhold`` only move or remove and
run on a full Redis.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson
from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.scripts import CLAIM, DONE, HOLD, MOVE, UNHOLD, RoundTrip, call
from common.redis_pool import as_text

__all__ = [
    "DEFAULT_CLAIM_MS",
    "HeldBuffer",
    "HeldEntry",
    "Hold",
    "HoldOutcome",
    "decode_held",
    "encode_held",
    "held_member",
    "parse_held_member",
]

DEFAULT_CLAIM_MS = 60_000
"""How long a releaser has, by default, to make what it took before others may take it."""
MAX_LIMIT = 100_000
_PAGE = 500


class HoldOutcome(IntEnum):
    """What :meth:`HeldBuffer.hold` did with one notification (``hold.lua``'s reply)."""

    DUPLICATE = 0
    """Held already: the first hold and its release stand."""
    HELD = 1
    MADE = 2
    """Its "already made" marker exists (released and made before): nothing is held."""
    ERASED = 3
    """The recipient was erased after the event was accepted, or this very notification:
    nothing is held."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A notification to hold: recipient, its id, the event JSON as the consumer received
    it, the release time and the event's ``acceptedAt`` (epoch ms both; the latter is
    compared with an erasure tombstone, as buffering does)."""

    tenant_id: str
    user_id: str
    notification_id: str
    event_json: str | bytes
    """The AMQP message's body as received (UTF-8 JSON: the consumer validated it)."""
    release_ms: int
    accepted_ms: int
    held_ms: int = 0
    """When it was held (epoch ms; kept for the release's figures). 0: unknown."""


@dataclass(frozen=True, slots=True)
class HeldEntry:
    """A held notification as :meth:`HeldBuffer.due` (or :meth:`HeldBuffer.of_user`) read it.

    ``release_ms`` is the release it was held for; ``due_ms`` the score it had when taken
    (its current release, or the end of an earlier claim that lapsed); ``claim_ms`` the end
    of this claim, which :meth:`HeldBuffer.done` checks (0 when read, not claimed)."""

    tenant_id: str
    user_id: str
    notification_id: str
    event_json: str
    held_ms: int
    release_ms: int
    due_ms: int
    claim_ms: int = 0

    @property
    def member(self) -> str:
        return held_member(self.tenant_id, self.user_id, self.notification_id)


# --- formats --------------------------------------------------------------------------------
def held_member(tenant_id: str, user_id: str, notification_id: str) -> str:
    """``tenant|user|notification id`` (ids never contain ``|``)."""
    return f"{tenant_id}|{user_id}|{notification_id}"


def parse_held_member(member: str) -> tuple[str, str, str] | None:
    parts = member.split("|")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def encode_held(event_json: str | bytes, held_ms: int, release_ms: int) -> bytes:
    """The entry JSON: ``{"event": <the event JSON, as a string>, "heldAt": ms,
    "releaseAt": ms}``. Raises ``UnicodeDecodeError`` for bytes that are not UTF-8."""
    event = event_json.decode() if isinstance(event_json, bytes) else event_json
    return orjson.dumps({"event": event, "heldAt": held_ms, "releaseAt": release_ms})


def decode_held(body: bytes | str, due_ms: int) -> tuple[str, int, int]:
    """``(event JSON, held ms, release ms)`` of an entry. A body that is not an entry (no
    writer makes one) is handed on as the event JSON itself, so the caller's validation
    dead-letters it with its reason rather than it being dropped unseen."""
    try:
        data: Any = orjson.loads(body)
        event = data["event"]
        if isinstance(event, str):
            release = data.get("releaseAt")
            return (event, int(data.get("heldAt") or 0),
                    due_ms if release is None else int(release))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return as_text(body), 0, due_ms


# --- the buffer ------------------------------------------------------------------------------
class HeldBuffer:
    def __init__(self, redis: Redis, keys: BufferKeys, timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._timeout = timeout_seconds

    def _user_keys(self, tenant_id: str, user_id: str) -> tuple[str, str, str]:
        shard = self._keys.shard(tenant_id, user_id)
        return (self._keys.held_index_at(shard), self._keys.held_bodies_at(shard),
                self._keys.held_set(tenant_id, user_id))

    async def hold(self, entries: Sequence[Hold]) -> list[HoldOutcome]:
        """Hold notifications until their release, one round trip; idempotent per
        notification id (see :class:`HoldOutcome`). Raises on any Redis error (then some may
        be held: holding the batch again is safe)."""
        if not entries:
            return []
        keys = self._keys
        trip = RoundTrip()
        for e in entries:
            index, bodies, mine = self._user_keys(e.tenant_id, e.user_id)
            trip.script(HOLD, [index, bodies, mine,
                               keys.seen_key(e.tenant_id, e.user_id, e.notification_id),
                               keys.erased_marker(e.tenant_id, e.user_id)],
                        [held_member(e.tenant_id, e.user_id, e.notification_id), e.release_ms,
                         encode_held(e.event_json, e.held_ms, e.release_ms),
                         e.notification_id, e.accepted_ms])
        return [HoldOutcome(int(r)) for r in await self._all(trip)]

    async def due(self, now_ms: int, limit: int,
                  claim_ms: int = DEFAULT_CLAIM_MS) -> list[HeldEntry]:
        """Take at most ``limit`` held notifications due at ``now_ms`` (the earliest first,
        over every shard), each claimed until ``now_ms + claim_ms``: two round trips. Hand
        them to :meth:`done` once made; those not done are due again when the claim lapses."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}, not {limit}")
        if claim_ms <= 0:
            raise ValueError(f"claim_ms must be positive, not {claim_ms}")
        keys = self._keys
        peek = RoundTrip()
        for shard in range(keys.shards):
            peek.command("ZRANGEBYSCORE", keys.held_index_at(shard), "-inf", now_ms,
                         "WITHSCORES", "LIMIT", 0, limit)
        found: list[tuple[float, str, int]] = []
        for shard, raw in enumerate(await self._all(peek)):
            found.extend((score, member, shard) for member, score in _pairs(raw))
        found.sort()
        chosen: dict[int, list[str]] = defaultdict(list)
        for _, member, shard in found[:limit]:
            chosen[shard].append(member)
        if not chosen:
            return []
        until = now_ms + claim_ms
        claim = RoundTrip()
        for shard, members in chosen.items():
            claim.script(CLAIM, [keys.held_index_at(shard), keys.held_bodies_at(shard)],
                         [now_ms, until, *members])
        taken: list[HeldEntry] = []
        for flat in await self._all(claim):
            for i in range(0, len(flat), 3):
                entry = _entry(as_text(flat[i]), float(flat[i + 1]), flat[i + 2], until)
                if entry is not None:
                    taken.append(entry)
        taken.sort(key=lambda e: (e.due_ms, e.member))
        return taken

    async def done(self, entries: Sequence[HeldEntry]) -> int:
        """Forget entries taken by :meth:`due` once they were made (or stopped for good),
        one script per recipient, one round trip; how many were forgotten. An entry moved
        since it was taken (:meth:`move`, :meth:`reschedule`) stays held."""
        by_user: dict[tuple[str, str], list[str | int]] = defaultdict(list)
        for e in entries:
            by_user[(e.tenant_id, e.user_id)] += [e.member, e.claim_ms]
        if not by_user:
            return 0
        trip = RoundTrip()
        for (tenant, user), args in by_user.items():
            trip.script(DONE, list(self._user_keys(tenant, user)), args)
        return sum(int(r) for r in await self._all(trip))

    async def move(self, moves: Sequence[tuple[HeldEntry, int]]) -> int:
        """Give held entries a new release time (epoch ms), one script per shard, one round
        trip; how many were still held. An entry being released when it moves stays held
        for the new time (see :meth:`done`)."""
        by_shard: dict[int, list[str | int]] = defaultdict(list)
        for entry, release_ms in moves:
            by_shard[self._keys.shard(entry.tenant_id, entry.user_id)] += [entry.member,
                                                                            release_ms]
        if not by_shard:
            return 0
        trip = RoundTrip()
        for shard, args in by_shard.items():
            trip.script(MOVE, [self._keys.held_index_at(shard)], args)
        return sum(int(r) for r in await self._all(trip))

    async def of_user(self, tenant_id: str, user_id: str,
                      limit: int = MAX_LIMIT) -> list[HeldEntry]:
        """Up to ``limit`` of the user's held notifications (not claimed), by due time."""
        index, bodies, mine = self._user_keys(tenant_id, user_id)
        members: list[str] = []
        cursor: Any = 0
        while True:  # SSCAN: every member there throughout is seen, some maybe twice
            cursor, page = await self._redis.sscan(mine, cursor, count=_PAGE)
            members.extend(as_text(m) for m in page)
            if int(cursor) == 0 or len(set(members)) >= limit:
                break
        members = list(dict.fromkeys(members))[:limit]
        found: list[HeldEntry] = []
        for start in range(0, len(members), _PAGE):
            chunk = members[start:start + _PAGE]
            trip = RoundTrip()
            trip.command("ZMSCORE", index, *chunk)
            trip.command("HMGET", bodies, *chunk)
            scores, raw = await self._all(trip)
            for member, score, body in zip(chunk, scores, raw, strict=True):
                if score is not None and body is not None:
                    entry = _entry(member, float(score), body, 0)
                    if entry is not None:
                        found.append(entry)
        found.sort(key=lambda e: (e.due_ms, e.member))
        return found

    async def reschedule(self, tenant_id: str, user_id: str,
                         new_release: Callable[[HeldEntry], int | None]) -> int:
        """Move every held notification of one user to ``new_release(entry)`` (epoch ms;
        ``None``: leave it), for a user whose time zone or quiet hours changed; how many
        moved. ``new_release`` may answer now (release at the next turn). Pages of
        :data:`_PAGE`, each one round trip."""
        entries = await self.of_user(tenant_id, user_id)
        moves = [(e, ms) for e in entries if (ms := new_release(e)) is not None]
        moved = 0
        for start in range(0, len(moves), _PAGE):
            moved += await self.move(moves[start:start + _PAGE])
        return moved

    async def unhold(self, tenant_id: str, user_id: str) -> int:
        """Forget every held notification of one user (their erasure); how many there were."""
        return int(await call(self._redis, UNHOLD, list(self._user_keys(tenant_id, user_id)),
                              [], self._timeout))

    async def count(self) -> int:
        """Held notifications, every shard (claimed ones included)."""
        trip = RoundTrip()
        for shard in range(self._keys.shards):
            trip.command("ZCARD", self._keys.held_index_at(shard))
        return sum(int(r) for r in await self._all(trip))

    async def next_due_ms(self) -> int | None:
        """The earliest score of any shard (epoch ms), or ``None`` when nothing is held."""
        trip = RoundTrip()
        for shard in range(self._keys.shards):
            trip.command("ZRANGE", self._keys.held_index_at(shard), 0, 0, "WITHSCORES")
        scores = [score for raw in await self._all(trip) for _, score in _pairs(raw)]
        return int(min(scores)) if scores else None

    async def _all(self, trip: RoundTrip) -> list[Any]:
        replies = await trip.run(self._redis, self._timeout)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies


def _pairs(raw: Any) -> list[tuple[str, float]]:
    """``(member, score)`` of a ``WITHSCORES`` reply: redis-py pairs them; bare RESP2 is
    flat."""
    if not raw:
        return []
    if isinstance(raw[0], list | tuple):
        return [(as_text(m), float(s)) for m, s in raw]
    return [(as_text(raw[i]), float(raw[i + 1])) for i in range(0, len(raw), 2)]


def _entry(member: str, score: float, body: bytes | str, claim_ms: int) -> HeldEntry | None:
    parts = parse_held_member(member)
    if parts is None:
        return None
    due_ms = int(score)
    event, held_ms, release_ms = decode_held(body, due_ms)
    return HeldEntry(parts[0], parts[1], parts[2], event, held_ms, release_ms, due_ms, claim_ms)
