"""Digests: events of one type and group, for one recipient, within the type's window, join
one notification that is updated in place (issue 19, "Digests").

The rules (docs: the plan's "Digests"; tests: tests/integration/test_digest.py):

* **Opening.** The first event of a ``(recipient, type, group)`` with no open digest opens
  one: its own notification (its own id, ``version`` 1, ``count`` 1, ``actors`` = its actor)
  is buffered as :mod:`common.buffer.inbox` buffers any (pending, replay order, the cap,
  the live channel). The digest stays open ``window_ms`` from then (the state key's TTL);
  the next event after that opens a new digest.
* **Joining.** Each later event of a *new* actor bumps ``version``, counts the actor
  (``count`` = distinct actors), puts it first in ``actors`` (the latest
  :data:`~common.models.DIGEST_ACTORS`, newest first) and re-renders ``message`` through the
  caller's ``render``. The notification keeps its id, ``createdAt`` and ``expiresAt``. If it
  is still pending its body is replaced in place; if not (acked, read, expired, capped) the
  update goes to the persist stream (as ``expired`` at its ``expiresAt``, ``why`` =
  ``digest``), and the store's upsert keeps its status and takes the higher version's body,
  which makes it unread again (:func:`common.rows.merge`). Either way the new body is
  published on the user's live channel, where the gateway sends it as a
  ``NOTIFICATION_UPDATE``.
* **A repeated actor** (an event of an actor already counted) changes nothing and pushes
  nothing (:attr:`DigestOutcome.REPEATED`): it replaces today's semantic-duplicate drop.
* **Idempotent on the event.** Every event made or joined leaves the "already made" marker
  of its own notification id (``seen``, as ``buffer.lua``): a redelivery changes nothing
  (:attr:`DigestOutcome.DUPLICATE`), during the window and after it.
* **Erasure.** A recipient's tombstone stops joins as it stops buffering: an event accepted
  at or before the erasure makes nothing (:attr:`DigestOutcome.ERASED`), and a digest made
  at or before it is never joined again (a later event opens a new one). The erasure also
  deletes the user's digest states (:mod:`common.buffer.erasure`). **An erased actor leaves
  the ``actors`` list, and ``count`` stays**: at the digest's next update, every listed actor
  whose erasure (the global erasure index) is at or after their join is dropped
  (:func:`drop_erased`); bodies already delivered or stored are not rewritten, as no
  notification naming an erased actor is today. ``actorId`` stays the opening actor (the
  notification's identity).

Concurrency is optimistic: one round trip reads the states of the batch's digest keys (and
the tombstones and "already made" markers), one ``ZMSCORE`` of the erasure index asks about
the actors those states list (skipped when none does), the caller renders, and one round trip
writes every candidate with ``digest.lua``, which checks that the state is still at the
version *and* last event id it was read at. A candidate that meets another consumer's write
(``-1``) is read and rendered again, at most ``max_attempts`` times; then
:class:`DigestContention` (a ``RedisError``: the consumer retries the batch, which is safe).
Two "first" events at once: both read no digest, one opens it, the other conflicts, reads
it and joins. Candidates of one digest in one batch are chained in order (each expects the
state the one before writes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.buffer.formats import erasure_member, expiry_member
from common.buffer.keys import BufferKeys
from common.buffer.scripts import DIGEST, RoundTrip
from common.models import DIGEST_ACTORS, Notification

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DigestBuffer",
    "DigestCandidate",
    "DigestContention",
    "DigestOutcome",
    "DigestResult",
    "DigestState",
    "Render",
    "RenderMany",
    "drop_erased",
    "group_hash",
]

DEFAULT_MAX_ATTEMPTS = 10
"""Each round some writer of the digest wins, so one that meets N - 1 others loses at most
N - 1 times: 10 rounds serve up to 10 consumers writing one digest at once."""


class DigestOutcome(IntEnum):
    """What became of one candidate (``digest.lua``'s replies, but for the last two)."""

    DUPLICATE = 0
    """Its event was made or joined before: nothing changed."""
    OPENED = 1
    """It opened a digest: its own notification is buffered (``version`` 1)."""
    JOINED = 2
    """It joined a pending digest, whose body was replaced in place."""
    JOINED_STORED = 3
    """It joined a digest no longer pending: the update went to the persist stream."""
    REPEATED = 4
    """Its actor is counted in the digest already: nothing changed, nothing was pushed."""
    ERASED = 5
    """The recipient was erased after the event was accepted: nothing is made."""
    CAPPED = 6
    """Opened, and the recipient was over the most pending notifications: their oldest left
    the buffer as ``expired`` (``why`` ``capped``), as :class:`~common.buffer.inbox.
    BufferOutcome.CAPPED` says."""
    RENDER_FAILED = 7
    """``render`` raised (:attr:`DigestResult.error`): nothing was written for it (the
    caller dead-letters the event, ``template_failed``); the others go on."""


_CONFLICT = -1


class DigestContention(RedisError):
    """Some candidates met other consumers' writes ``max_attempts`` times in a row."""


@dataclass(frozen=True, slots=True)
class DigestCandidate:
    """One event's notification for one recipient, offered to a digest.

    ``notification`` is what the consumer made for this event alone (its own id, derived
    from the event; ``message`` is replaced by ``render``). ``group`` is the type's
    ``digestBy`` values in any stable text (e.g. ``"postId=p1|commentId="``): events of one
    type and group join one digest; the type is added here. ``window_ms`` > 0 is the
    type's digest window. ``accepted_ms`` is when the event was accepted (the erasure
    tombstone is compared with it; ``None``: the notification's ``createdAt``)."""

    notification: Notification
    group: str
    window_ms: int
    accepted_ms: int | None = None

    def __post_init__(self) -> None:
        if self.window_ms <= 0:
            raise ValueError(f"window_ms must be > 0 (a digest window), not {self.window_ms}")


@dataclass(frozen=True, slots=True)
class DigestState:
    """The digest as one candidate would write it: what ``render`` is given."""

    candidate: DigestCandidate
    notification_id: str
    """The digest's id: the opening event's notification id."""
    version: int
    count: int
    """Distinct actors so far (erased ones included)."""
    actors: tuple[str, ...]
    """The latest actors, newest first (the candidate's first), at most
    :data:`~common.models.DIGEST_ACTORS`, erased ones left out."""

    @property
    def others(self) -> int:
        """``count - 1``: "alice and {{ others }} others"."""
        return self.count - 1

    @property
    def opening(self) -> bool:
        return self.version == 1


Render = Callable[[DigestState], str]
"""The caller's renderer: the message of the notification as ``state`` would make it."""
RenderMany = Callable[[Sequence[DigestState]], Awaitable[Sequence["str | Exception"]]]
"""The caller's renderer of a whole round: one message (or the exception its template
raised) per state, in order."""


def _one_by_one(render: Render | None) -> RenderMany:
    assert render is not None

    async def many(states: Sequence[DigestState]) -> list[str | Exception]:
        out: list[str | Exception] = []
        for state in states:
            try:
                out.append(render(state))
            except Exception as exc:  # the caller's template: its failure is this one's
                out.append(exc)
        return out

    return many


@dataclass(frozen=True, slots=True)
class DigestResult:
    outcome: DigestOutcome
    notification: Notification | None = None
    """The body written (opened or joined), else ``None``."""
    error: Exception | None = None
    """What ``render`` raised (:attr:`DigestOutcome.RENDER_FAILED`)."""


def group_hash(type_name: str, group: str) -> str:
    """The part of a digest's key name that names its type and group (no ``:``, bounded)."""
    raw = f"{type_name}\x1f{group}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def drop_erased(actors: Sequence[tuple[str, int]], erased_at: Mapping[str, int]
                ) -> list[tuple[str, int]]:
    """Herald's rule for an erased actor: ``(actor, joined ms)`` pairs without those whose
    erasure (``erased_at``: actor -> erasure ms) is at or after their join. Pure; the count
    does not change."""
    return [(a, ms) for a, ms in actors if (at := erased_at.get(a)) is None or at < ms]


@dataclass(slots=True)
class _Read:
    """A digest's state as read (absent: ``version`` 0)."""

    version: int = 0
    last_event: str = ""
    made_ms: int = 0
    notification_id: str = ""
    body: bytes | None = None
    count: int = 0
    actors: list[tuple[str, int]] = field(default_factory=list)
    members: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Write:
    pos: int
    mode: str
    expected: tuple[int, str]
    body: Notification
    state: DigestState
    joined: list[tuple[str, int]]


class DigestBuffer:
    """The consumer's digests, in the buffer of :mod:`common.buffer.inbox` (same keys, same
    live channel, same persist stream)."""

    def __init__(
        self,
        redis: Redis,
        keys: BufferKeys,
        *,
        dedup_ttl_ms: int,
        max_pending: int,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_seconds: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._redis = redis
        self._keys = keys
        self._dedup_ms = dedup_ttl_ms
        self._max_pending = max_pending
        self._attempts = max_attempts
        self._timeout = timeout_seconds

    def state_key(self, candidate: DigestCandidate) -> str:
        n = candidate.notification
        return self._keys.digest_key(n.tenantId, n.userId,
                                     group_hash(str(n.type), candidate.group))

    async def join(self, candidates: Sequence[DigestCandidate], render: Render | None = None,
                   *, render_many: RenderMany | None = None) -> list[DigestResult]:
        """Each candidate opened, joined or found made before, in order; one result each.

        The message of each candidate that would write (again on a retry) comes from
        ``render_many`` (the whole round's states at once, e.g. rendered in a thread: the
        consumer's templates stay off the event loop) or ``render`` (one state at a time).
        Raises :class:`DigestContention` after ``max_attempts`` conflicted rounds, and any
        Redis error as it comes (what was written is written; a repeat of the whole call is
        safe: every event is made once)."""
        if (render is None) == (render_many is None):
            raise TypeError("give exactly one of render and render_many")
        many = render_many if render_many is not None else _one_by_one(render)
        results: list[DigestResult | None] = [None] * len(candidates)
        todo = list(range(len(candidates)))
        for _ in range(self._attempts):
            if not todo:
                break
            todo = await self._round(candidates, todo, many, results)
        if todo:
            raise DigestContention(f"{len(todo)} digest write(s) met other consumers' writes "
                                   f"{self._attempts} times in a row")
        return [r if r is not None else DigestResult(DigestOutcome.DUPLICATE)
                for r in results]

    async def _round(self, candidates: Sequence[DigestCandidate], todo: list[int],
                     render_many: RenderMany, results: list[DigestResult | None]) -> list[int]:
        """Read, render and write the ``todo`` candidates once; those that conflicted.

        Candidates of one digest are chained: each expects the state the one before would
        write. If the one before fails to render, the next one's write conflicts and is read
        again in the next round."""
        reads, seen, tombs = await self._read([candidates[p] for p in todo])
        erased = await self._erased_actors(candidates, todo, reads)
        planned: list[_Write] = []
        writes: list[_Write] = []
        current: dict[str, _Read] = {}
        bases: dict[str, Notification] = {}
        for pos, was_seen in zip(todo, seen, strict=True):
            cand = candidates[pos]
            n = cand.notification
            if was_seen:
                results[pos] = DigestResult(DigestOutcome.DUPLICATE)
                continue
            key = self.state_key(cand)
            state = current.get(key) or reads[key]
            tomb = tombs.get((n.tenantId, n.userId))
            accepted = _accepted_ms(cand)
            if tomb is not None and tomb >= accepted:
                results[pos] = DigestResult(DigestOutcome.ERASED)
                continue
            dead = state.version == 0 or (tomb is not None and tomb >= state.made_ms)
            expected = (state.version, state.last_event)
            if not dead and n.actorId in state.members:
                writes.append(_Write(pos, "repeat", expected, n, _state_of(cand, state), []))
                continue
            if dead:
                joined = [(n.actorId, accepted)]
                shown = DigestState(cand, n.id, 1, 1, (n.actorId,))
                base = n
            else:
                listed = drop_erased(state.actors, erased.get(n.tenantId, {}))
                joined = [(n.actorId, accepted), *listed][:DIGEST_ACTORS]
                shown = DigestState(cand, state.notification_id, state.version + 1,
                                    state.count + 1, tuple(a for a, _ in joined))
                if key in bases:
                    base = bases[key]
                else:
                    assert state.body is not None
                    base = Notification.model_validate_json(state.body)
            planned.append(_Write(pos, "open" if dead else "join", expected, base, shown,
                                  joined))
            bases[key] = base
            current[key] = _Read(shown.version, n.eventId,
                                 state.made_ms if not dead else _ms(n.createdAt),
                                 shown.notification_id, None, shown.count, joined,
                                 ({n.actorId} if dead else state.members | {n.actorId}))
        messages = await render_many([w.state for w in planned]) if planned else []
        if len(messages) != len(planned):
            raise ValueError(f"render_many gave {len(messages)} messages for "
                             f"{len(planned)} states")
        for plan, message in zip(planned, messages, strict=True):
            if isinstance(message, Exception):  # the caller's template: its failure is this one's
                results[plan.pos] = DigestResult(DigestOutcome.RENDER_FAILED, error=message)
                continue
            shown = plan.state
            body = plan.body.model_copy(update={"message": message, "count": shown.count,
                                                "actors": list(shown.actors),
                                                "version": shown.version})
            writes.append(_Write(plan.pos, plan.mode, plan.expected, body, shown, plan.joined))
        if not writes:
            return []
        writes.sort(key=lambda w: w.pos)  # a digest's chain is written in order
        replies = await self._write(candidates, writes)
        conflicted: list[int] = []
        for write, reply in zip(writes, replies, strict=True):
            code = int(reply)
            if code == _CONFLICT:
                conflicted.append(write.pos)
                continue
            outcome = DigestOutcome(code)
            written = outcome in (DigestOutcome.OPENED, DigestOutcome.CAPPED,
                                  DigestOutcome.JOINED, DigestOutcome.JOINED_STORED)
            results[write.pos] = DigestResult(outcome, write.body if written else None)
        return conflicted

    async def _read(self, cands: Sequence[DigestCandidate]
                    ) -> tuple[dict[str, _Read], list[bool], dict[tuple[str, str], int]]:
        """One round trip: every digest's state, every event's marker, every tombstone."""
        keys = self._keys
        trip = RoundTrip()
        state_keys = list(dict.fromkeys(self.state_key(c) for c in cands))
        users = list(dict.fromkeys((c.notification.tenantId, c.notification.userId)
                                   for c in cands))
        for key in state_keys:
            trip.command("HGETALL", key)
        for cand in cands:
            n = cand.notification
            trip.command("EXISTS", keys.seen_key(n.tenantId, n.userId, n.id))
        for tenant, user in users:
            trip.command("HGET", keys.erased_marker(tenant, user), "at")
        replies = await trip.run(self._redis, self._timeout)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        reads = {key: _parse_state(reply) for key, reply in zip(state_keys, replies,
                                                                 strict=False)}
        seen = [bool(r) for r in replies[len(state_keys):len(state_keys) + len(cands)]]
        tombs = {user: int(r) for user, r in zip(users, replies[len(state_keys) + len(cands):],
                                                 strict=True) if r is not None}
        return reads, seen, tombs

    async def _erased_actors(self, candidates: Sequence[DigestCandidate], todo: list[int],
                             reads: dict[str, _Read]) -> dict[str, dict[str, int]]:
        """Erasure times (tenant -> actor -> ms) of the actors the read states list, from
        the global erasure index: one ``ZMSCORE`` (a single command: the slot rule)."""
        wanted: dict[str, tuple[str, str]] = {}
        for pos in todo:
            n = candidates[pos].notification
            for actor, _ in reads[self.state_key(candidates[pos])].actors:
                wanted.setdefault(erasure_member(n.tenantId, actor), (n.tenantId, actor))
        if not wanted:
            return {}
        trip = RoundTrip()
        trip.command("ZMSCORE", self._keys.erasure_index, *wanted)
        scores: Any = await trip.one(self._redis, self._timeout)
        erased: dict[str, dict[str, int]] = {}
        for (tenant, actor), score in zip(wanted.values(), scores, strict=True):
            if score is not None:
                erased.setdefault(tenant, {})[actor] = int(score)
        return erased

    async def _write(self, candidates: Sequence[DigestCandidate], writes: list[_Write]
                     ) -> list[Any]:
        keys = self._keys
        trip = RoundTrip()
        opening = {write.body.id: write for write in writes if write.mode == "open"}
        if opening:
            trip.command("ZADD", keys.expiry_index, "NX",
                         *[x for w in opening.values()
                           for x in (_ms(w.body.expiresAt),
                                     expiry_member(w.body.tenantId, w.body.userId, w.body.id))])
        first = len(trip)
        for write in writes:
            cand = candidates[write.pos]
            own = cand.notification
            body = write.body
            t, u = own.tenantId, own.userId
            trip.script(DIGEST,
                        [keys.seen_key(t, u, own.id), self.state_key(cand),
                         keys.pending_hash(t, u), keys.pending_index(t, u),
                         keys.erased_marker(t, u), keys.persist_stream_of(t, u)],
                        [write.mode, write.expected[0], write.expected[1], body.id,
                         body.model_dump_json(), _ms(body.createdAt), self._dedup_ms,
                         cand.window_ms, self._max_pending, keys.live_channel(t, u),
                         _accepted_ms(cand), own.actorId, own.eventId, body.version,
                         body.count, orjson.dumps(write.joined).decode(),
                         _ms(body.expiresAt)])
        replies = await trip.run(self._redis, self._timeout)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        made = replies[first:]
        unmade = [expiry_member(w.body.tenantId, w.body.userId, w.body.id)
                  for w, r in zip(writes, made, strict=True)
                  if w.mode == "open" and int(r) not in (DigestOutcome.OPENED,
                                                          DigestOutcome.CAPPED)]
        if unmade:
            # the ZADD put them in the expiry index before the scripts said no
            cleanup = RoundTrip()
            cleanup.command("ZREM", keys.expiry_index, *unmade)
            await cleanup.one(self._redis, self._timeout)
        return made


def _state_of(cand: DigestCandidate, read: _Read) -> DigestState:
    return DigestState(cand, read.notification_id, read.version, read.count,
                       tuple(a for a, _ in read.actors))


def _parse_state(reply: Any) -> _Read:
    """A digest's HGETALL (bytes or text keys), or an absent one."""
    if not reply:
        return _Read()
    if isinstance(reply, list):  # a flat field, value list (RESP2 without its callback)
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    fields = {_text(k): v for k, v in reply.items()}
    body = fields.get("body")
    pairs = orjson.loads(fields.get("actors") or b"[]")
    return _Read(
        version=int(fields.get("v") or 0),
        last_event=_text(fields.get("e") or b""),
        made_ms=int(fields.get("made") or 0),
        notification_id=_text(fields.get("id") or b""),
        body=body.encode() if isinstance(body, str) else body,
        count=int(fields.get("n") or 0),
        actors=[(str(a), int(ms)) for a, ms in pairs],
        members={k[2:] for k in fields if k.startswith("a:")},
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _accepted_ms(cand: DigestCandidate) -> int:
    return cand.accepted_ms if cand.accepted_ms is not None else _ms(cand.notification.createdAt)


def _ms(when: Any) -> int:
    return int(when.timestamp() * 1000)
