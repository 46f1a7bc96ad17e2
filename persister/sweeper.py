"""The expiry sweep: a notification whose ``expiresAt`` passed without an ACK goes to the
persist stream as ``expired``, and then leaves the buffer.

One round (every ``SWEEP_INTERVAL_SECONDS``; at once again while rounds come back full):

1. take up to ``SWEEP_BATCH`` members of the expiry index scored at or before now;
2. read each one's notification from its user's pending hash (one pipelined round trip);
3. XADD an ``expired`` entry for every one still there — *all of them before anything is
   removed* — with ``t`` = its ``expiresAt``, so two sweepers write identical entries;
4. per user, one Lua script (pending hash and replay order share the user's hash slot)
   HDELs and ZREMs the ids still present;
5. ZREM the index members. A member whose notification is already gone was acked (or
   outlived the buffer's grace period) and only needs dropping.

A crash between any two steps leaves work the next round redoes, which at worst adds a
duplicate stream entry (the store's upsert is idempotent, and ``acked`` beats ``expired``);
a notification never leaves the buffer without its entry in the stream. An ACK racing the
sweep is safe for the same reason: the gateway adds its ``acked`` entry first.

Several persisters may run; a lease (``{prefix}:sweeper``, ``SET NX PX``, renewed each
round) lets one of them sweep at a time so that a backlog is not written N times over.
Nothing depends on it for correctness: if the holder dies another takes over when the lease
runs out, and an overlap only duplicates entries.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT

from common.backoff import Backoff
from common.logs import get_logger
from common.naming import Names
from common.records import Status, encode_entry
from persister.metrics import EXPIRED, RETRIES
from persister.retry import REDIS_ERRORS, pause

__all__ = ["Sweeper", "lease_key"]

log = get_logger(__name__)

LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

REMOVE_LUA = """
local removed = 0
for i = 1, #ARGV do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    removed = removed + 1
  end
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return removed
"""


def lease_key(names: Names) -> str:
    return f"{names.prefix}:sweeper"


@dataclass(frozen=True, slots=True)
class _Due:
    member: bytes
    tenant: str
    user: str
    notification_id: str
    expires_ms: int


def _parse(member: bytes, score: float) -> _Due | None:
    parts = member.decode(errors="replace").split("|")
    if len(parts) != 3 or not all(parts):
        return None
    return _Due(member, parts[0], parts[1], parts[2], int(score))


class Sweeper:
    def __init__(
        self,
        redis: Redis,
        names: Names,
        holder: str,
        stop: asyncio.Event,
        *,
        interval_seconds: float,
        batch: int,
        retry_max_seconds: float,
    ) -> None:
        self._redis = redis
        self._names = names
        self._holder = holder
        self._stop = stop
        self._interval = interval_seconds
        self._batch = batch
        self._retry_max = retry_max_seconds
        self._lease_ms = int(max(10.0, 3 * interval_seconds) * 1000)
        self._lease = redis.register_script(LEASE_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._remove = redis.register_script(REMOVE_LUA)

    async def run(self) -> None:
        """Sweep until ``stop``; a round in progress is finished first."""
        backoff = Backoff(0.05, self._retry_max)
        while not self._stop.is_set():
            try:
                full = await self.sweep_once()
            except REDIS_ERRORS as exc:
                delay = backoff.next()
                RETRIES.labels("sweep").inc()
                log.warning("expiry sweep failed, retrying", error=repr(exc)[:500],
                            retry_in=round(delay, 3))
                await pause(self._stop, delay)
                continue
            backoff.reset()
            if not full:
                await pause(self._stop, self._interval)
        try:
            await self._release(keys=[lease_key(self._names)], args=[self._holder])
        except REDIS_ERRORS as exc:
            log.info("sweeper lease not released; it runs out by itself", error=repr(exc))

    async def sweep_once(self, now_ms: int | None = None) -> bool:
        """One round; True when it was full (more may be due right away)."""
        names = self._names
        held = await self._lease(keys=[lease_key(names)], args=[self._holder, self._lease_ms])
        if not held:
            return False
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        raw: Any = await self._redis.zrangebyscore(
            names.expiry_index, "-inf", now_ms, start=0, num=self._batch, withscores=True
        )
        if not raw:
            return False
        due: list[_Due] = []
        for member, score in raw:
            parsed = _parse(member, score)
            if parsed is None:
                log.warning("malformed expiry index member dropped", member=repr(member))
            else:
                due.append(parsed)

        async with self._redis.pipeline(transaction=False) as pipe:
            for d in due:
                pipe.hget(names.pending_hash(d.tenant, d.user), d.notification_id)
            bodies: list[bytes | None] = await pipe.execute() if due else []
        found = [(d, body) for d, body in zip(due, bodies, strict=True) if body is not None]

        if found:
            # 3. Every entry first: a failure here removes nothing, the next round redoes it.
            async with self._redis.pipeline(transaction=False) as pipe:
                for d, body in found:
                    fields = encode_entry(body.decode(errors="replace"), Status.EXPIRED,
                                          d.expires_ms)
                    entry: dict[EncodableT, EncodableT] = {k: v for k, v in fields.items()}
                    pipe.xadd(names.persist_stream, entry)
                await pipe.execute()
            # 4. Then out of the buffer, one script per user.
            by_user: dict[tuple[str, str], list[str]] = defaultdict(list)
            for d, _ in found:
                by_user[(d.tenant, d.user)].append(d.notification_id)
            async with self._redis.pipeline(transaction=False) as pipe:
                for (tenant, user), ids in by_user.items():
                    await self._remove(
                        keys=[names.pending_hash(tenant, user), names.pending_index(tenant, user)],
                        args=ids, client=pipe,
                    )
                removed = await pipe.execute()
            EXPIRED.inc(sum(int(r) for r in removed))
        # 5. Last, the index members: found, gone, or malformed.
        await self._redis.zrem(names.expiry_index, *[member for member, _ in raw])
        if found:
            log.info("expired notifications moved to the stream", count=len(found),
                     gone=len(due) - len(found))
        return len(raw) >= self._batch
