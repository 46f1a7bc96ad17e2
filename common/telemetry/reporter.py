"""Each replica's figures in Redis, every second: its stats snapshot, and (gateways) who is
connected to it.

The snapshot (:mod:`common.telemetry.snapshot`) is written with ``SET … PX`` of
:data:`SNAPSHOT_TTL_MS` and the replica's member in the replicas index is re-scored, both in
one pipeline; the index drops members silent for :data:`FORGET_MS`. A replica that dies
disappears from the console within the TTL.

Presence (gateways only): a :class:`Presence`, built by the gateway's wiring and handed to
the reporter and to the connection handler, counts open connections per ``tenant|user`` in
memory (``join``/``leave``, no I/O); each second the users that changed are written to the
replica's hash (``HSET`` a count, ``HDEL`` at zero) and its TTL refreshed. If a write failed
or the hash expired meanwhile, the next turn writes the whole map again. The hash is bounded
by the gateway's connection limit.

Redis away: a turn fails, is logged at debug level, and the next turn tries again; nothing is
queued.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter as Tally
from typing import Any

import orjson
from redis.asyncio import Redis

from common.logs import get_logger
from common.naming import Names
from common.tasks import Periodic
from common.telemetry.keys import (
    presence_key,
    presence_member,
    replica_key,
    replica_member,
    replicas_index,
)
from common.telemetry.snapshot import Sampler, read_registry

__all__ = ["INTERVAL_SECONDS", "Presence", "Reporter", "default_replica_id"]

log = get_logger(__name__)

INTERVAL_SECONDS = 1.0
SNAPSHOT_TTL_MS = 5000
FORGET_MS = 60_000
PRESENCE_TTL_MS = 5000
TIMEOUT_SECONDS = 2.0


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Presence:
    """Open connections per user on this process (gateways)."""

    def __init__(self) -> None:
        self.counts: Tally[str] = Tally()
        self._dirty: set[str] = set()
        self._rewrite = True

    def join(self, tenant_id: str, user_id: str) -> None:
        member = presence_member(tenant_id, user_id)
        self.counts[member] += 1
        self._dirty.add(member)

    def leave(self, tenant_id: str, user_id: str) -> None:
        member = presence_member(tenant_id, user_id)
        self.counts[member] -= 1
        if self.counts[member] <= 0:
            del self.counts[member]
        self._dirty.add(member)

    async def write(self, redis: Redis, key: str) -> None:
        if not self.counts and not self._dirty and not self._rewrite:
            return
        rewrite, dirty = self._rewrite, self._dirty
        self._rewrite, self._dirty = False, set()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                if rewrite:
                    pipe.delete(key)
                    if self.counts:
                        everyone: dict[Any, Any] = dict(self.counts)
                        pipe.hset(key, mapping=everyone)
                else:
                    gone = [m for m in dirty if m not in self.counts]
                    changed: dict[Any, Any] = {m: self.counts[m] for m in dirty if m in self.counts}
                    if gone:
                        pipe.hdel(key, *gone)
                    if changed:
                        pipe.hset(key, mapping=changed)
                pipe.pexpire(key, PRESENCE_TTL_MS)
                replies = await pipe.execute()
        except BaseException:
            self._rewrite = True
            raise
        if self.counts and not replies[-1]:
            self._rewrite = True  # the hash had expired: write all of it next turn


class Reporter:
    def __init__(self, redis: Redis, names: Names, service: str, replica: str,
                 presence: Presence | None = None) -> None:
        self._redis = redis
        self._names = names
        self.service = service
        self.replica = replica
        self._presence = presence
        self._sampler = Sampler()
        self._loop = Periodic("telemetry", INTERVAL_SECONDS, self.report, final=self._forget,
                              final_timeout=TIMEOUT_SECONDS, failure="telemetry report failed")

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        """Stop reporting, then remove this replica's snapshot and presence (best effort): it
        leaves the console at once rather than after the TTL."""
        await self._loop.stop()

    async def _forget(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(replica_key(self._names, self.service, self.replica))
            pipe.zrem(replicas_index(self._names), replica_member(self.service, self.replica))
            if self._presence is not None:
                pipe.delete(presence_key(self._names, self.replica))
            await pipe.execute()

    def snapshot(self) -> dict[str, Any]:
        values, gauges, histograms = read_registry()
        now = time.time()
        body = self._sampler.snapshot(time.monotonic(), values, gauges, histograms)
        return {"service": self.service, "replica": self.replica, "at": int(now * 1000),
                **body}

    async def report(self) -> None:
        snapshot = self.snapshot()
        names = self._names
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(replica_key(names, self.service, self.replica), orjson.dumps(snapshot),
                         px=SNAPSHOT_TTL_MS)
                pipe.zadd(replicas_index(names),
                          {replica_member(self.service, self.replica): snapshot["at"]})
                pipe.zremrangebyscore(replicas_index(names), "-inf", snapshot["at"] - FORGET_MS)
                await pipe.execute()
            if self._presence is not None:
                await self._presence.write(self._redis, presence_key(names, self.replica))
