"""The consumer's side of the buffer: admit events (per-actor rate limit) and buffer their
notifications, a whole batch in one round trip.

* ``admit`` (``admit.lua``) — sliding-window log per actor, idempotent on the ``eventId``.
* ``buffer`` (``buffer.lua``) — the "already made" marker, the erasure tombstone, the
  semantic-window marker, the notification, its place in the replay order and the gateway
  signal, all in one script: a consumer killed at any point leaves all of it or none of it;
  the AMQP message is acked only afterwards.

:meth:`NotificationBuffer.admit_and_buffer` sends, in one pipeline: one ``ZADD`` of the
batch's expiry members (before the scripts: an index member without a notification is
harmless, the sweeper drops it; a notification without one would never expire), one admit
per rate-limited event, then one buffer per notification, *gated* on its event's admission
(the script reads whether the admit just before it put the event id in the actor's log).
The gate is a key of the script call, so it is used only when the actor's log is in the
recipient's shard (always, with one shard): the slot rule of :mod:`common.buffer.keys`. A
notification whose recipient is in another shard waits for the first round trip's admission
of its event and is buffered, ungated, in a second.
Another round trip happens only when some notification was not made (limited, erased):
their expiry members are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from redis.asyncio import Redis

from common.buffer.formats import expiry_member
from common.buffer.keys import BufferKeys
from common.buffer.scripts import ADMIT, BUFFER, RoundTrip
from common.models import Notification

__all__ = ["AdmitRequest", "BufferOutcome", "NotificationBuffer", "Pending", "RateVerdict"]


class RateVerdict(IntEnum):
    """An event's verdict from its actor's rate limit (``admit.lua``). Not the gateway's
    connection admission (``ws_gateway.guard``): one name per concept."""

    LIMITED = 0
    ADMITTED = 1


class BufferOutcome(IntEnum):
    DUPLICATE = 0
    BUFFERED = 1
    SEMANTIC_DUPLICATE = 2
    ERASED = 3
    """The recipient was erased (:mod:`common.buffer.erasure`) after the event was accepted,
    or this very notification was erased: nothing is made."""
    LIMITED = 4
    """Its event was not admitted (the actor is over its rate limit): nothing is made."""
    CAPPED = 5
    """Buffered, and the recipient was over the most pending notifications a user may hold:
    their oldest left the buffer as ``expired`` (with ``why`` ``capped``) in the persist
    stream."""


@dataclass(frozen=True, slots=True)
class AdmitRequest:
    """One rate-limited event: its tenant, actor and id."""

    tenant_id: str
    actor_id: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification to buffer, with its semantic-dedup digest (or None), when its event
    was accepted (epoch ms; ``None``: its ``createdAt``), which the erasure tombstone is
    compared with, and the admission that gates it (``None``: not rate-limited)."""

    notification: Notification
    semantic_digest: str | None
    accepted_ms: int | None = None
    gate: AdmitRequest | None = None


class NotificationBuffer:
    def __init__(
        self,
        redis: Redis,
        keys: BufferKeys,
        *,
        rate_limit_count: int,
        rate_limit_window_ms: int,
        semantic_window_ms: int,
        dedup_ttl_ms: int,
        max_pending: int,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._limit = rate_limit_count
        self._window_ms = rate_limit_window_ms
        self._semantic_ms = semantic_window_ms
        self._dedup_ms = dedup_ttl_ms
        self._max_pending = max_pending
        self._timeout = timeout_seconds

    async def admit(self, requests: Sequence[AdmitRequest | tuple[str, str, str]]
                    ) -> list[RateVerdict]:
        """Rate-limit events alone (no buffering), in one round trip."""
        admissions, _ = await self.admit_and_buffer(requests, [])
        return admissions

    async def buffer(self, items: Sequence[Pending]) -> list[BufferOutcome]:
        """Buffer notifications (their gates, if any, as admitted before), one round trip."""
        _, outcomes = await self.admit_and_buffer([], items)
        return outcomes

    async def admit_and_buffer(
        self, requests: Sequence[AdmitRequest | tuple[str, str, str]], items: Sequence[Pending]
    ) -> tuple[list[RateVerdict], list[BufferOutcome]]:
        """Admit ``requests`` and buffer ``items`` (each gated on its ``gate``, which must be
        among ``requests`` or admitted before), in one round trip; idempotent on every event
        and notification id. Raises on any Redis error (nothing is known to be done: the
        caller runs the batch again, which is safe)."""
        keys = self._keys
        trip = RoundTrip()
        admits = [r if isinstance(r, AdmitRequest) else AdmitRequest(*r) for r in requests]
        members: dict[str | bytes, float] = {}
        for item in items:
            n = item.notification
            members[expiry_member(n.tenantId, n.userId, n.id)] = _ms(n.expiresAt)
        if members:
            trip.command("ZADD", keys.expiry_index, "NX",
                         *[x for member, ms in members.items() for x in (ms, member)])
        first_admit = len(trip)
        for admit in admits:
            trip.script(ADMIT, [keys.rate_limit_key(admit.tenant_id, admit.actor_id)],
                        [admit.event_id, self._limit, self._window_ms])
        first_buffer = len(trip)
        deferred: list[int] = []  # items whose gate is in another shard: buffered after
        for pos, item in enumerate(items):
            gate = item.gate
            if gate is not None and (keys.shard(gate.tenant_id, gate.actor_id)
                                     != keys.shard(item.notification.tenantId,
                                                   item.notification.userId)):
                deferred.append(pos)
                continue
            trip.script(BUFFER, *self._buffer_call(item, gated=True))
        replies = await trip.run(self._redis, self._timeout)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        admissions = [RateVerdict(int(r)) for r in replies[first_admit:first_buffer]]
        made = iter(replies[first_buffer:])
        admitted = await self._admitted([items[pos].gate for pos in deferred],
                                        dict(zip(admits, admissions, strict=True)))
        passed = [pos for pos, ok in zip(deferred, admitted, strict=True) if ok]
        later = dict(zip(passed, await self._buffer_ungated([items[p] for p in passed]),
                         strict=True))
        waited = set(deferred)
        outcomes = [later.get(pos, BufferOutcome.LIMITED) if pos in waited
                    else BufferOutcome(int(next(made))) for pos in range(len(items))]
        # A Redis that had lost admit.lua but not buffer.lua (restarted, then only events
        # without a rate limit came) answered the admit NOSCRIPT: RoundTrip ran it again after
        # the reload — after the gated buffer call, which found no admission and made nothing.
        # Those are buffered again now that the admission is known.
        verdicts = dict(zip(admits, admissions, strict=True))
        early = [pos for pos, (item, outcome) in enumerate(zip(items, outcomes, strict=True))
                 if outcome is BufferOutcome.LIMITED and pos not in waited
                 and item.gate is not None
                 and verdicts.get(item.gate) is RateVerdict.ADMITTED]
        for pos, outcome in zip(early, await self._buffer_ungated([items[p] for p in early]),
                                strict=True):
            outcomes[pos] = outcome
        unmade = [expiry_member(i.notification.tenantId, i.notification.userId,
                                i.notification.id)
                  for i, o in zip(items, outcomes, strict=True)
                  if o in (BufferOutcome.ERASED, BufferOutcome.LIMITED)]
        if unmade:
            # The batch's ZADD put them in the expiry index before the scripts said no.
            cleanup = RoundTrip()
            cleanup.command("ZREM", keys.expiry_index, *unmade)
            await cleanup.one(self._redis, self._timeout)
        return admissions, outcomes

    def _buffer_call(self, item: Pending, *, gated: bool
                     ) -> tuple[list[str], list[str | int]]:
        """The keys and arguments of one ``buffer.lua`` call (with the gate if ``gated`` and
        the item has one)."""
        keys = self._keys
        n = item.notification
        t, u = n.tenantId, n.userId
        digest = item.semantic_digest
        created_ms = _ms(n.createdAt)
        script_keys = [keys.seen_key(t, u, n.id), keys.pending_hash(t, u),
                       keys.pending_index(t, u), keys.semantic_key(t, u, digest or "none"),
                       keys.erased_marker(t, u), keys.persist_stream_of(t, u)]
        args: list[str | int] = [
            n.id, n.model_dump_json(), created_ms, self._dedup_ms,
            self._semantic_ms if digest else 0, self._max_pending,
            keys.live_channel(t, u),
            item.accepted_ms if item.accepted_ms is not None else created_ms,
        ]
        if gated and item.gate is not None:
            script_keys.append(keys.rate_limit_key(item.gate.tenant_id, item.gate.actor_id))
            args.append(item.gate.event_id)
        return script_keys, args

    async def _admitted(self, gates: Sequence[AdmitRequest | None],
                        now: dict[AdmitRequest, RateVerdict]) -> list[bool]:
        """Whether each gate's event is admitted: from this call's admissions, or (a gate
        admitted before) read from the actor's log in a round trip of its own — not in the
        pipeline with the admits, whose scripts a NOSCRIPT reload would run after it."""
        earlier = [g for g in gates if g is not None and g not in now]
        scores: dict[AdmitRequest, bool] = {}
        if earlier:
            trip = RoundTrip()
            for gate in earlier:
                trip.command("ZSCORE", self._keys.rate_limit_key(gate.tenant_id, gate.actor_id),
                             gate.event_id)
            replies = await trip.run(self._redis, self._timeout)
            for gate, reply in zip(earlier, replies, strict=True):
                if isinstance(reply, Exception):
                    raise reply
                scores[gate] = reply is not None
        return [gate is not None and (now[gate] is RateVerdict.ADMITTED if gate in now
                                      else scores[gate]) for gate in gates]

    async def _buffer_ungated(self, items: Sequence[Pending]) -> list[BufferOutcome]:
        """Buffer notifications whose events are known to be admitted, one round trip."""
        if not items:
            return []
        trip = RoundTrip()
        for item in items:
            trip.script(BUFFER, *self._buffer_call(item, gated=False))
        replies = await trip.run(self._redis, self._timeout)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [BufferOutcome(int(r)) for r in replies]


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
