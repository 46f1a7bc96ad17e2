"""The slot rule on a real Redis Cluster (three primaries of the test's own): every operation
of the buffer's owner, with sixteen shards, through redis-py's cluster client. A script call
whose keys were in two slots would be refused by the cluster (``CROSSSLOT``); the services
themselves still use a single-node client (docs/DESIGN.md §3.3)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from common.buffer.buckets import IngestBuckets
from common.buffer.erasure import RedisErasure
from common.buffer.expiry import ExpiryQueue
from common.buffer.held import HeldBuffer, Hold, HoldOutcome
from common.buffer.inbox import AdmitRequest, BufferOutcome, Pending, RateVerdict
from common.buffer.pending import AckRequest, PendingStore
from common.naming import Names
from common.records import Status
from common.telemetry.reader import read_trace
from common.telemetry.trace import Tracer
from tests.support.buffer import make_buffer, note
from tests.support.redis_cluster import redis_cluster
from tests.support.replies import raw_entries as entries_of
from tests.support.slots import check_slots  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


async def test_every_buffer_operation_runs_on_a_redis_cluster(tmp_path: Path) -> None:
    async with redis_cluster(tmp_path) as ports:
        cluster = RedisCluster(host="127.0.0.1", port=ports[0])
        # The owner's API takes redis-py's client; the cluster client speaks the same calls.
        redis = cast(Redis, cluster)
        try:
            await _every_operation(redis, Names("hc" + secrets.token_hex(4), 16))
        finally:
            await cluster.aclose()


async def _every_operation(redis: Redis, names: Names) -> None:
    users = [f"user{n}" for n in range(8)]
    assert len({names.keys.shard("default", u) for u in users}) > 2  # several slots, nodes
    buffer = make_buffer(redis, names, limit=1)
    notes = [note(f"e{i}", user=u, actor="fan", ttl=600 if i < 7 else 1)
             for i, u in enumerate(users)]
    gates = [AdmitRequest("default", "fan", f"e{i}") for i in range(8)]
    # A fresh cluster has no scripts: the first round trip takes the NOSCRIPT path too.
    admissions, outcomes = await buffer.admit_and_buffer(
        gates[:1], [Pending(notes[0], None, gate=gates[0])])
    assert (admissions, outcomes) == ([RateVerdict.ADMITTED], [BufferOutcome.BUFFERED])
    assert await buffer.buffer([Pending(n, "like") for n in notes[1:]]) == [
        BufferOutcome.BUFFERED] * 7
    assert (await buffer.admit([gates[1]])) == [RateVerdict.LIMITED]

    store = PendingStore(redis, names.keys)
    assert [i for i, _ in await store.replay("default", users[0])] == [notes[0].id]
    acked = await store.ack_many([AckRequest("default", u, (n.id,))
                                  for u, n in zip(users[:4], notes[:4], strict=True)])
    assert acked == [([n.id], []) for n in notes[:4]]
    assert await store.mark_read("default", users[4], notes[4].id, 1234)

    queue = ExpiryQueue(redis, names.keys)
    due = await queue.lease_and_due("me", 10_000, int(time.time() * 1000) + 60_000, 100)
    assert due is not None
    assert [d.notification_id for d in due.parsed] == [notes[7].id]
    assert await queue.expire(due.parsed) == 1
    await queue.drop(due.members)
    await store.record_read(notes[7], Status.EXPIRED, 1, 2)

    entries = 0
    for stream in names.keys.persist_streams:
        entries += len(entries_of(await redis.xrange(stream)))
    assert entries == 4 + 1 + 1 + 1  # acked, read, expired, the expired one read

    erased = await RedisErasure(redis, names.keys, 3600).erase("default", users[5])
    assert erased.pending == 1
    assert await buffer.buffer([Pending(notes[5], None)]) == [BufferOutcome.ERASED]

    held = HeldBuffer(redis, names.keys)
    now_ms = int(time.time() * 1000)
    # (accepted a minute after users[5]'s erasure above, so held for them too)
    holds = [Hold("default", u, f"h-{u}", "{}", now_ms + i, now_ms + 60_000)
             for i, u in enumerate(users)]
    assert await held.hold(holds) == [HoldOutcome.HELD] * 8
    taken = await held.due(now_ms + 100, 5)
    assert [e.notification_id for e in taken] == [h.notification_id for h in holds[:5]]
    assert await held.move([(taken[0], now_ms + 10_000)]) == 1
    assert await held.done(taken) == 4
    assert await held.reschedule("default", users[6], lambda e: now_ms) == 1
    assert await held.unhold("default", users[7]) == 1
    assert await held.count() == 3

    assert (await IngestBuckets(redis, names.keys, timeout_seconds=5).take("k1", 1, 2, 1))[0]

    tracer = Tracer()
    tracer.start(redis, names, 60, "consumer", "cluster")
    try:
        for n in notes:
            tracer.mark(n.eventId, "consumed", 1.0)
        assert await tracer.flush() == len(notes)
    finally:
        await tracer.close()
    assert [m["stage"] for m in await read_trace(redis, names, notes[3].eventId)] == [
        "consumed"]
