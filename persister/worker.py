"""Batches from the persist stream into the store, acked only once the store confirmed.

Each turn takes one batch — entries claimed from a stalled persister when a claim scan is
due, else this consumer's own (after a restart) or new entries — and then:

1. decodes every entry; a malformed one is dead-lettered (see :mod:`common.buffer.stream`),
   logged with its stream id and counted, never retried;
2. writes the good ones with one ``upsert_rows`` (one transaction / bulk_write), retried
   with backoff while the store fails — nothing of the batch is acked meanwhile;
3. records the users of the written rows as users their tenant has (known users, whom a
   broadcast reaches: :mod:`common.store.base`), one insert-if-absent write per tenant of
   the batch (:func:`known_users_of`), retried as the write is;
4. acks the whole batch with one XACK.

Erased users (:mod:`common.buffer.erasure`): before step 2, one ``ZMSCORE`` of the erasure index
drops the rows of notifications created at or before their user's erasure (an ACK or an
expiry that raced the erasure must not bring them back); after step 2, a second one catches
an erasure that ran while the write was in flight, and erases those rows again. The entries
of dropped rows are deleted from the stream after the ack.

Steps 2 to 4 of one batch run while step 1 of the next one does (a pipeline one batch
deep): the store's write waits on the disk and, for SQLite, runs in its own thread, so
reading and decoding overlap it. Only one write is in flight at a time, so batches reach
the store in the order they were read.

A crash or a lost XACK after step 2 delivers the entries again: a duplicate write, which the
idempotent upsert absorbs. A store that keeps failing keeps the batch here (and its entries
pending in the group) until it recovers — the next batch, read meanwhile, waits unacked
too; on SIGTERM the batch gets a few more attempts and is then left pending (with the one
read after it) for another persister to claim. A record the store refused for good would
hold its batch the same way, logged on every attempt: entries are validated by the models
first, so only a store outage is expected to.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import Counter
from dataclasses import dataclass, field

from pydantic import ValidationError

from common.buffer.erasure import ErasureIndex
from common.buffer.stream import Entry, PersistStream
from common.erasure import stale_rows
from common.logs import get_logger
from common.millis import from_ms
from common.retry import REDIS_ERRORS, GaveUp, Retrier
from common.rows import Row
from common.store import Store
from common.store.base import MAX_MEMBER_IDS
from common.telemetry.trace import Tracer
from common.validation import one_line
from persister.entries import decode
from persister.metrics import (
    BATCH_SECONDS,
    BATCH_SIZE,
    CLAIMED,
    DEAD_LETTERED,
    PERSISTED,
    count_retry,
)

__all__ = ["Batch", "Worker", "known_users_of", "split"]

log = get_logger(__name__)


@dataclass
class Batch:
    """One read from the stream, sorted into what to write, what to dead-letter, and the ids
    to ack once both are done."""

    rows: list[Row] = field(default_factory=list)
    row_ids: list[str] = field(default_factory=list)
    """The stream id of each row, in the same order."""
    malformed: list[tuple[Entry, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    erased_ids: list[str] = field(default_factory=list)
    """Entries of erased users' notifications: not written, deleted from the stream."""
    started: float = 0.0
    """``perf_counter()`` when the batch was read, for ``herald_persist_batch_seconds``."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "invalid notification: " + one_line(exc, whole="notification")
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return f"{type(exc).__name__}: {exc}"


def split(entries: list[Entry]) -> Batch:
    """Pure: decode each entry; an entry deleted while pending (no fields) is only acked.

    Any exception while decoding makes the entry malformed, not just ``ValueError``: an
    absurd ``t`` raises ``OverflowError`` or ``OSError`` from ``datetime.fromtimestamp``, and
    one such entry must not stop the persister."""
    batch = Batch()
    for entry in entries:
        stream_id, fields = entry
        batch.ids.append(stream_id)
        if not fields:
            continue
        try:
            batch.rows.append(decode(fields))
            batch.row_ids.append(stream_id)
        except Exception as exc:
            batch.malformed.append((entry, _describe(exc)))
    return batch


def known_users_of(rows: list[Row]) -> list[tuple[str, list[str], int]]:
    """Pure: per tenant of ``rows``, its users (each once, in chunks of at most
    :data:`~common.store.base.MAX_MEMBER_IDS`) and the earliest ``created_ms`` of its rows:
    the time they are recorded as known at. The earliest, so that an erasure up to a time
    (:meth:`Worker._erase_again`) that covers any of the batch's rows of a user covers the
    user's known-user entry too."""
    users: dict[str, dict[str, None]] = {}
    earliest: dict[str, int] = {}
    for row in rows:
        users.setdefault(row.tenant_id, {})[row.user_id] = None
        at = earliest.get(row.tenant_id)
        if at is None or row.created_ms < at:
            earliest[row.tenant_id] = row.created_ms
    out: list[tuple[str, list[str], int]] = []
    for tenant, seen in users.items():
        ids = list(seen)
        out += [(tenant, ids[i:i + MAX_MEMBER_IDS], earliest[tenant])
                for i in range(0, len(ids), MAX_MEMBER_IDS)]
    return out


class Worker:
    def __init__(
        self,
        stream: PersistStream,
        store: Store,
        stop: asyncio.Event,
        *,
        claim_interval_seconds: float,
        retry_max_seconds: float,
        erasures: ErasureIndex | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._stream = stream
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._store = store
        self._erasures = erasures
        self._stop = stop
        self._claim_interval = claim_interval_seconds
        self._retry = Retrier(stop, retry_max_seconds, on_retry=count_retry)
        self._next_claim = 0.0

    async def run(self) -> None:
        """Until ``stop`` is set. Pipelined: while one batch is written to the store and
        acked, the next one is read and decoded. At most one write is in flight, so batches
        reach the store in the order they were read; each is acked only after its own write.
        On stop, the batch in flight is finished (or handed back) first."""
        writing: asyncio.Task[None] | None = None
        try:
            await self._retry.run("create_group", self._stream.ensure_group, REDIS_ERRORS)
            while not self._stop.is_set():
                entries = await self._next_batch()
                if not entries:
                    continue
                batch = await self.prepare(entries)
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self.commit(batch), name="persist-commit")
            if writing is not None:
                await writing
        except GaveUp:
            # Stopping while Redis or the store fail: the write in flight still finishes its
            # own (bounded) attempts rather than being cut off.
            if writing is not None:
                with contextlib.suppress(GaveUp):
                    await writing
            return
        finally:
            # Only when run() itself fails or is cancelled while a write is in flight.
            if writing is not None and not writing.done():
                writing.cancel()
                await asyncio.wait({writing})

    async def _next_batch(self) -> list[Entry]:
        now = time.monotonic()
        if now >= self._next_claim:
            claimed = await self._retry.run("claim", self._stream.claim, REDIS_ERRORS)
            if self._stream.claim_scan_done:
                self._next_claim = now + self._claim_interval
            if claimed:
                CLAIMED.inc(len(claimed))
                log.info("claimed stream entries from a stalled persister", count=len(claimed),
                         first=claimed[0][0])
                return claimed
        if self._stop.is_set():
            return []
        return await self._retry.run("read", self._stream.read, REDIS_ERRORS)

    async def prepare(self, entries: list[Entry]) -> Batch:
        """Decode one batch and dead-letter its malformed entries (they are acked with the
        rest of the batch, in :meth:`commit`)."""
        started = time.perf_counter()
        BATCH_SIZE.observe(len(entries))
        batch = split(entries)
        batch.started = started
        for entry, error in batch.malformed:
            log.warning("malformed stream entry dead-lettered", streamId=entry[0], error=error,
                        deadStream=self._stream.dead_key)
            await self._retry.run(
                "dead_letter", functools.partial(self._stream.dead_letter, entry, error),
                REDIS_ERRORS,
            )
            DEAD_LETTERED.inc()
        if batch.rows and self._erasures is not None:
            stale = set((await self._stale(batch.rows))[0])
            if stale:
                batch.erased_ids = [i for n, i in enumerate(batch.row_ids) if n in stale]
                batch.rows = [r for n, r in enumerate(batch.rows) if n not in stale]
                batch.row_ids = [i for n, i in enumerate(batch.row_ids) if n not in stale]
                log.info("stream entries of erased users dropped", count=len(stale))
        return batch

    async def _stale(self, rows: list[Row]) -> tuple[list[int], dict[tuple[str, str], int]]:
        """Positions of the rows an erasure covers, and the erasure times of their users
        (one ``ZMSCORE``, retried while Redis fails)."""
        erasures = self._erasures
        assert erasures is not None
        erased = await self._retry.run(
            "erasures", lambda: erasures.erased_at((r.tenant_id, r.user_id) for r in rows),
            REDIS_ERRORS)
        return stale_rows(rows, erased), erased

    async def _erase_again(self, batch: Batch) -> None:
        """After the write: an erasure that ran meanwhile may have missed these rows."""
        stale, erased = await self._stale(batch.rows)
        if not stale:
            return
        pairs = {(batch.rows[n].tenant_id, batch.rows[n].user_id) for n in stale}
        for tenant, user in pairs:
            at = erased[(tenant, user)]
            await self._retry.run("store_erase", functools.partial(
                self._store.erase_user, tenant, user, created_until=from_ms(at)))
        batch.erased_ids += [batch.row_ids[n] for n in stale]
        log.info("rows written while their user was erased, erased again", count=len(stale))

    async def commit(self, batch: Batch) -> None:
        """Write the batch's rows (retried until the store confirms), then ack all of it."""
        if batch.rows:
            rows = batch.rows
            await self._retry.run("store", lambda: self._store.upsert_rows(rows))
            for tenant, users, at_ms in known_users_of(rows):
                await self._retry.run("known_users", functools.partial(
                    self._store.add_known_users, tenant, users, from_ms(at_ms)))
            for status, count in Counter(r.status for r in rows).items():
                PERSISTED.labels(status).inc(count)
            self._tracer.mark_rows("persisted", rows)
            if self._erasures is not None:
                await self._erase_again(batch)
        ids = batch.ids
        await self._retry.run("ack", lambda: self._stream.ack(ids), REDIS_ERRORS)
        if batch.erased_ids:
            erased_ids = batch.erased_ids
            await self._retry.run("erase_entries", lambda: self._stream.delete(erased_ids),
                                  REDIS_ERRORS)
        BATCH_SECONDS.observe(time.perf_counter() - batch.started)
