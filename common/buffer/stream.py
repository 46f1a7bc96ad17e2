"""A persist stream's consumer group, as the persister uses it (owned here, with the rest
of the Redis schema). There is one stream per buffer shard (:mod:`common.buffer.keys`); a
persister runs one :class:`PersistStream` (and one worker) per shard, all in the one group.

* Group ``{prefix}.persisters`` (:attr:`~common.buffer.keys.BufferKeys.persist_group`),
  created at id ``0`` with MKSTREAM, so entries the gateways
  and sweepers wrote before any persister ever ran are read too. ``BUSYGROUP`` (another
  persister made it first) is fine; ``NOGROUP`` (the stream was deleted under us) makes it
  again.
* Consumer name ``<hostname>-<pid>``, unique per process. A process that comes back under the
  same name (pid 1 in a container) first reads its own pending entries (``XREADGROUP ... 0``),
  then new ones (``>``).
* Entries delivered to a persister that stalled or died are taken over with ``XAUTOCLAIM``
  once idle for ``CLAIM_IDLE_SECONDS``; the scan goes on from where the last one stopped.
* Malformed entries are dead-lettered, not dropped: copied to ``{prefix}:persist:dead``
  (field ``source`` = their stream id, ``error``, ``fields`` = the original fields as JSON,
  capped at about ``DEAD_MAXLEN`` entries) and then acked, so they never block the group and
  an operator can still read what was wrong.
* The stream is trimmed (``XTRIM MINID``) to the oldest entry any group still needs: below
  every group's last-delivered id and its oldest pending entry, nothing can be read again.

Redis responses are kept as bytes (``decode_responses=False``): a malformed entry with bytes
that are not UTF-8 must reach the dead-letter stream, not fail the whole read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from common.buffer.keys import BufferKeys
from common.redis_pool import as_text

__all__ = ["DEAD_MAXLEN", "Entry", "PersistStream", "consumer_name", "dead_stream",
           "group_name"]

DEAD_MAXLEN = 10_000

Entry = tuple[str, dict[bytes, bytes]]
"""A stream id and its fields (empty when the entry was deleted while pending)."""


def group_name(names: BufferKeys) -> str:
    return names.persist_group


def dead_stream(names: BufferKeys) -> str:
    return names.persist_dead_stream


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _entries(raw: Any) -> list[Entry]:
    return [(as_text(i), dict(fields or {})) for i, fields in raw]


class PersistStream:
    def __init__(
        self,
        redis: Redis,
        names: BufferKeys,
        consumer: str,
        *,
        batch_size: int,
        block_ms: int,
        claim_idle_ms: int,
        linger_ms: int = 0,
        shard: int = 0,
    ) -> None:
        self._redis = redis
        self.key = names.persist_stream_at(shard)
        self.group = group_name(names)
        self.dead_key = dead_stream(names)
        self.consumer = consumer
        self._batch = batch_size
        self._block_ms = block_ms
        self._linger = linger_ms / 1000
        self._claim_idle_ms = claim_idle_ms
        self._history: str | None = "0"
        self._claim_cursor = "0-0"

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self) -> list[Entry]:
        """The next batch: this consumer's own pending entries first (once, after a start),
        then new ones, waiting up to ``BLOCK_MS``. ``[]`` when nothing came.

        A read of new entries that did not fill a batch waits ``LINGER_MS`` and takes what
        came meanwhile too: at a steady trickle (ACKs at 1,000/s) that is one store
        transaction per few dozen entries rather than one per entry."""
        if self._history is not None:
            entries = await self._read_group(self._history, block=None)
            if entries:
                self._history = entries[-1][0]
                return entries
            self._history = None
        entries = await self._read_group(">", block=self._block_ms)
        if entries and len(entries) < self._batch and self._linger > 0:
            await asyncio.sleep(self._linger)
            # If this read fails, what was read first is delivered to us already (pending in
            # the group): write it now rather than leave it for a claim; the next read meets
            # the error again and retries.
            with contextlib.suppress(RedisError, OSError):
                entries += await self._read_group(">", block=None,
                                                  count=self._batch - len(entries))
        return entries

    async def _read_group(self, start: str, block: int | None,
                          count: int | None = None) -> list[Entry]:
        try:
            # RESP2 (the client's default): [[stream, [(id, fields), ...]]], or [] on timeout.
            reply: Any = await self._redis.xreadgroup(
                self.group, self.consumer, {self.key: start}, count=count or self._batch,
                block=block,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return []
        return _entries(reply[0][1]) if reply else []

    async def claim(self) -> list[Entry]:
        """Entries idle past ``CLAIM_IDLE_SECONDS`` in any consumer, now ours. Entries deleted
        while pending are dropped from the group by Redis itself."""
        try:
            reply: Any = await self._redis.xautoclaim(
                self.key, self.group, self.consumer, min_idle_time=self._claim_idle_ms,
                start_id=self._claim_cursor, count=self._batch,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return []
        self._claim_cursor = as_text(reply[0])
        return _entries(reply[1])

    @property
    def claim_scan_done(self) -> bool:
        """True when the last :meth:`claim` reached the end of the pending list."""
        return self._claim_cursor == "0-0"

    async def ack(self, ids: list[str]) -> None:
        if ids:
            await self._redis.xack(self.key, self.group, *ids)

    async def delete(self, ids: list[str]) -> None:
        """``XDEL`` entries (of an erased user, :mod:`common.buffer.erasure`), acked before."""
        if ids:
            await self._redis.xdel(self.key, *ids)

    async def dead_letter(self, entry: Entry, error: str) -> None:
        """Copy a malformed entry to the dead-letter stream (the caller acks it afterwards)."""
        stream_id, fields = entry
        original = {k.decode(errors="replace"): v.decode(errors="replace")
                    for k, v in fields.items()}
        await self._redis.xadd(
            self.dead_key,
            {"source": stream_id, "error": error[:1000], "fields": orjson.dumps(original)},
            maxlen=DEAD_MAXLEN, approximate=True,
        )

    async def sample(self) -> tuple[int, int, int]:
        """(stream entries, entries this group has not read, read but not yet stored), for
        the gauges an operator watches."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.key)
            pipe.xinfo_groups(self.key)
            length, groups = await pipe.execute()
        mine = next((g for g in groups if as_text(g["name"]) == self.group), None)
        lag = int(mine.get("lag") or 0) if mine is not None else int(length)
        pending = int(mine["pending"]) if mine is not None else 0
        return int(length), lag, pending

    async def trim(self) -> int:
        """Drop the entries no group can read again; how many went."""
        groups = await self._redis.xinfo_groups(self.key)
        floor: str | None = None
        for group in groups:
            needed = as_text(group["last-delivered-id"])
            if group["pending"]:
                summary = await self._redis.xpending(self.key, group["name"])
                if summary["min"] is not None:
                    needed = min(needed, as_text(summary["min"]), key=_id_key)
            floor = needed if floor is None else min(floor, needed, key=_id_key)
        if floor is None or floor == "0-0":
            return 0
        trimmed: int = await self._redis.xtrim(self.key, minid=floor, approximate=False)
        return trimmed
