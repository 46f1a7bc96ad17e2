"""The expiry sweep's side of the buffer: the lease, the due members of the expiry index, and
moving due notifications to the persist stream as ``expired``.

A round is three round trips: (1) take or renew the lease and read the due members, (2) one
``expire.lua`` per user (the entries first, the removals after, in one script), (3) only once
every script of (2) succeeded, ``ZREM`` the members. A crash between any two leaves members
the next round takes again: their notifications are gone (nothing to do, the member is just
dropped) or still pending (expired then). A notification never leaves the buffer without its
entry, and an ACK racing the sweep is one script against another: whichever runs first takes
the notification, the other finds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from common.buffer.formats import ExpiryMember, parse_expiry_member
from common.buffer.keys import BufferKeys
from common.buffer.scripts import EXPIRE, LEASE, RELEASE, RoundTrip

__all__ = ["Due", "ExpiryQueue"]


class Due:
    """A round's due members: the raw ones (all dropped at the end) and those parsed."""

    __slots__ = ("members", "parsed")

    def __init__(self, members: list[bytes], parsed: list[ExpiryMember]) -> None:
        self.members = members
        self.parsed = parsed

    @property
    def malformed(self) -> list[bytes]:
        ok = {p.member for p in self.parsed}
        return [m for m in self.members if m not in ok]


class ExpiryQueue:
    def __init__(self, redis: Redis, keys: BufferKeys, timeout_seconds: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._timeout = timeout_seconds

    async def lease_and_due(self, holder: str, lease_ms: int, now_ms: int,
                            batch: int) -> Due | None:
        """Take or renew the sweeper's lease and read up to ``batch`` members due at
        ``now_ms``, in one round trip; ``None`` when another holder has the lease."""
        trip = RoundTrip()
        trip.script(LEASE, [self._keys.sweeper_lease], [holder, lease_ms])
        trip.command("ZRANGEBYSCORE", self._keys.expiry_index, "-inf", now_ms,
                     "WITHSCORES", "LIMIT", 0, batch)
        held, raw = await _all(trip, self._redis, self._timeout)
        if not int(held):
            return None
        # redis-py pairs them up ([member, score] each); a bare RESP2 reply is flat.
        pairs = ([(m, float(s)) for m, s in raw] if raw and isinstance(raw[0], list | tuple)
                 else [(raw[i], float(raw[i + 1])) for i in range(0, len(raw), 2)])
        parsed = [p for member, score in pairs
                  if (p := parse_expiry_member(member, score)) is not None]
        return Due([member for member, _ in pairs], parsed)

    async def release(self, holder: str) -> None:
        trip = RoundTrip()
        trip.script(RELEASE, [self._keys.sweeper_lease], [holder])
        await trip.one(self._redis, self._timeout)

    async def expire(self, due: Sequence[ExpiryMember]) -> int:
        """Move the still-pending ones to the stream as ``expired`` (``t`` = their
        ``expiresAt``), one script per user, one round trip; how many were still pending.
        Raises if any script failed (then its user's notifications are all still pending)."""
        by_user: dict[tuple[str, str], list[str | int]] = defaultdict(list)
        for d in due:
            by_user[(d.tenant, d.user)] += [d.notification_id, d.expires_ms]
        if not by_user:
            return 0
        keys = self._keys
        trip = RoundTrip()
        for (tenant, user), args in by_user.items():
            trip.script(EXPIRE, [keys.pending_hash(tenant, user), keys.pending_index(tenant, user),
                                 keys.persist_stream_of(tenant, user)], args)
        return sum(int(r) for r in await _all(trip, self._redis, self._timeout))

    async def drop(self, members: Sequence[bytes]) -> None:
        """Remove members from the expiry index (after :meth:`expire` succeeded)."""
        if members:
            trip = RoundTrip()
            trip.command("ZREM", self._keys.expiry_index, *members)
            await trip.one(self._redis, self._timeout)

    async def size(self) -> int:
        """Members of the expiry index: notifications buffered and not yet swept."""
        trip = RoundTrip()
        trip.command("ZCARD", self._keys.expiry_index)
        return int(await trip.one(self._redis, self._timeout))


async def _all(trip: RoundTrip, redis: Redis, deadline: float) -> list[Any]:
    replies = await trip.run(redis, deadline)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
