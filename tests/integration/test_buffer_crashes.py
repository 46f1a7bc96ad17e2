"""A crash between any two calls of the buffer's multi-call flows leaves the data consistent,
and the recovery path (the caller's retry, the next sweep round, a repeated erasure) finishes
the work: simulated by running only the first call(s) of a flow, then the recovery.

Consistent means: a user's pending hash and replay order hold the same ids; every pending
notification has its expiry member; no notification left the buffer without its entry in the
persist stream; nothing is made twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from common.buffer.erasure import RedisErasure
from common.buffer.expiry import ExpiryQueue
from common.buffer.formats import erasure_member, expiry_member
from common.buffer.inbox import AdmitRequest, BufferOutcome, Pending
from common.buffer.pending import AckRequest, PendingStore
from common.buffer.scripts import ERASE, RoundTrip
from common.naming import Names
from tests.conftest import REDIS_URL
from tests.support.buffer import make_buffer, note, stream_rows, user_state
from tests.support.slots import check_slots, sharded_names  # noqa: F401  (fixtures)
from tests.support.timing import scaled

pytestmark = pytest.mark.integration

LATER_MS = 10**13  # a "now" past every expiresAt


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def consistent(redis: Redis, names: Names, user: str = "bob") -> set[str]:
    """Assert the invariants for ``user``; their pending ids."""
    hashed, ordered = await user_state(redis, names, user)
    assert hashed == ordered
    members = set(await redis.zrange(names.keys.expiry_index, 0, -1))
    assert {expiry_member("default", user, i) for i in hashed} <= members
    return hashed


async def test_consumer_batch_cut_after_the_expiry_zadd(raw: Redis, redis: Redis,
                                                        names: Names) -> None:
    """The batch's first command ran, its scripts did not: the member alone is harmless, and
    the redelivered batch makes everything once."""
    n = note("e1")
    trip = RoundTrip()
    trip.command("ZADD", names.keys.expiry_index, "NX", 1, expiry_member("default", "bob", n.id))
    await trip.run(raw)
    assert await consistent(redis, names) == set()
    buffer = make_buffer(raw, names)
    gate = AdmitRequest("default", "alice", "e1")
    assert (await buffer.admit_and_buffer([gate], [Pending(n, None, gate=gate)]))[1] == [
        BufferOutcome.BUFFERED]
    assert await consistent(redis, names) == {n.id}


async def test_consumer_batch_cut_after_the_admission(raw: Redis, redis: Redis,
                                                      names: Names) -> None:
    """Admitted, not buffered (cut mid-pipeline): the retry is admitted again (same event id
    counts once) and buffers it."""
    buffer = make_buffer(raw, names, limit=1)
    await buffer.admit([("default", "alice", "e1")])
    n = note("e1")
    gate = AdmitRequest("default", "alice", "e1")
    assert await buffer.admit_and_buffer([gate], [Pending(n, None, gate=gate)]) == (
        [1], [BufferOutcome.BUFFERED])
    assert await consistent(redis, names) == {n.id}


async def test_limited_notification_whose_cleanup_was_cut_is_dropped_by_the_sweep(
    raw: Redis, redis: Redis, names: Names
) -> None:
    """A limited notification's expiry member stays when the consumer dies before its ZREM:
    the sweep drops it without writing any entry."""
    n = note("e1")
    await redis.zadd(names.keys.expiry_index, {expiry_member("default", "bob", n.id): 1})
    queue = ExpiryQueue(raw, names.keys)
    due = await queue.lease_and_due("me", 10_000, LATER_MS, 100)
    assert due is not None
    assert await queue.expire(due.parsed) == 0
    await queue.drop(due.members)
    assert await stream_rows(redis, names) == []
    assert await redis.zcard(names.keys.expiry_index) == 0


@pytest.mark.parametrize("cut_after", ["lease_and_due", "expire"])
async def test_sweep_round_cut_between_calls_is_finished_by_the_next(
    raw: Redis, redis: Redis, names: Names, cut_after: str
) -> None:
    notes = [note(f"e{i}", ttl=1) for i in range(3)]
    await make_buffer(raw, names).buffer([Pending(n, None) for n in notes])
    queue = ExpiryQueue(raw, names.keys)
    due = await queue.lease_and_due("me", 10_000, LATER_MS, 100)
    assert due is not None
    if cut_after == "expire":
        assert await queue.expire(due.parsed) == 3
    # (crash) ... the next round, by another sweeper once the lease ran out:
    await queue.release("me")
    again = await queue.lease_and_due("next", 10_000, LATER_MS, 100)
    assert again is not None
    assert sorted(again.members) == sorted(due.members)
    await queue.expire(again.parsed)
    await queue.drop(again.members)
    assert await consistent(redis, names) == set()
    rows = await stream_rows(redis, names)
    assert sorted(i for i, _, _ in rows) == sorted(n.id for n in notes)  # once each
    assert {s for _, s, _ in rows} == {"expired"}


async def test_ack_cut_before_its_answer_is_safe_to_repeat(raw: Redis, redis: Redis,
                                                           names: Names) -> None:
    """The ACK script ran but its answer was lost (connection cut): the client sends the ACK
    again, which finds nothing pending; exactly one entry exists."""
    n = note("e1")
    await make_buffer(raw, names).buffer([Pending(n, None)])
    store = PendingStore(raw, names.keys)
    await store.ack_many([AckRequest("default", "bob", (n.id,))])  # answer "lost"
    assert await store.ack_many([AckRequest("default", "bob", (n.id,))]) == [([], [n.id])]
    assert await stream_rows(redis, names) == [(n.id, "acked", None)]
    assert await consistent(redis, names) == set()


@pytest.mark.parametrize("cut_after", ["index", "script"])
async def test_erasure_cut_between_steps_is_finished_by_repeating_it(
    raw: Redis, redis: Redis, names: Names, cut_after: str
) -> None:
    n, kept = note("e1"), note("e2", "carol")
    buffer = make_buffer(raw, names)
    await buffer.buffer([Pending(n, None), Pending(kept, None)])
    await PendingStore(raw, names.keys).ack_many([AckRequest("default", "bob", (n.id,))])
    m = note("e3")
    await buffer.buffer([Pending(m, None)])
    # The first steps of RedisErasure.erase, by hand: the persisters' index ...
    await redis.zadd(names.keys.erasure_index, {erasure_member("default", "bob"): 1})
    if cut_after == "script":  # ... then the script that deletes and writes the tombstone
        trip = RoundTrip()
        trip.script(ERASE, [names.keys.pending_hash("default", "bob"),
                            names.keys.pending_index("default", "bob"),
                            names.keys.erased_marker("default", "bob"),
                            names.keys.rate_limit_key("default", "bob")], [1, 3_600_000])
        await trip.run(raw)
    assert await consistent(redis, names) in ({m.id}, set())
    # (crash) ... the client repeats the erasure:
    await RedisErasure(raw, names.keys, 3600).erase("default", "bob")
    assert await consistent(redis, names) == set()
    assert await stream_rows(redis, names) == []
    assert set(await redis.zrange(names.keys.expiry_index, 0, -1)) == {
        expiry_member("default", "carol", kept.id)}
    assert await buffer.buffer([Pending(m, None)]) == [BufferOutcome.ERASED]
    assert await consistent(redis, names, "carol") == {kept.id}


async def test_sweep_lease_of_a_dead_holder_runs_out(raw: Redis, names: Names) -> None:
    queue = ExpiryQueue(raw, names.keys)
    assert await queue.lease_and_due("dead", 50, int(time.time() * 1000), 10) is not None
    assert await queue.lease_and_due("alive", 50, int(time.time() * 1000), 10) is None
    deadline = time.monotonic() + scaled(5)
    while await queue.lease_and_due("alive", 50, int(time.time() * 1000), 10) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
