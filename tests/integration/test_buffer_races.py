"""The buffer's races, run concurrently many times against the real Redis (bounded in count
and time): an ACK against the insert of the same notification, and an ACK against its expiry.

Each round starts the two sides together on separate connections, so their scripts
interleave however Redis orders them. Whatever the order, afterwards: a notification is
either still pending (hash and order agree) or out of the buffer with exactly one entry in
the persist stream; what an ACK reports as acked has an ``acked`` entry; nothing is made
twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.buffer.expiry import ExpiryQueue
from common.buffer.inbox import BufferOutcome, Pending
from common.buffer.pending import AckRequest, PendingStore
from common.naming import Names
from tests.conftest import REDIS_URL
from tests.support.buffer import make_buffer, note, stream_rows, user_state
from tests.support.slots import check_slots, sharded_names  # noqa: F401  (fixtures)
from tests.support.timing import scaled

pytestmark = pytest.mark.integration

ROUNDS = 200
TIME_BUDGET_S = 20.0  # per test, before the factor: stop early on a slow machine


@pytest.fixture
async def clients() -> AsyncIterator[tuple[Redis, Redis]]:
    a, b = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_ack_against_insert(clients: tuple[Redis, Redis], redis: Redis,
                                  names: Names) -> None:
    inserter, acker = clients
    buffer = make_buffer(inserter, names)
    store = PendingStore(acker, names.keys)
    acked: set[str] = set()
    made: set[str] = set()
    deadline = time.monotonic() + scaled(TIME_BUDGET_S)
    rounds = 0
    for i in range(ROUNDS):
        if time.monotonic() > deadline:
            break
        n = note(f"e{i}")

        async def ack_soon(nid: str = n.id) -> tuple[list[str], list[str]]:
            await asyncio.sleep(0)
            [outcome] = await store.ack_many([AckRequest("default", "bob", (nid,))])
            assert not isinstance(outcome, Exception)
            return outcome

        outcome, (answer, unknown) = await asyncio.gather(
            buffer.buffer([Pending(n, None)]), ack_soon())
        assert outcome == [BufferOutcome.BUFFERED]
        made.add(n.id)
        if answer:
            acked.add(n.id)
        else:
            assert unknown == [n.id]
        rounds += 1
    assert rounds >= 20, "too few rounds to mean anything"
    pending_ids, ordered = await user_state(redis, names)
    assert pending_ids == ordered
    rows = await stream_rows(redis, names)
    counts = Counter(i for i, _, _ in rows)
    assert set(counts.values()) <= {1}
    assert set(counts) == acked
    assert pending_ids == made - acked
    # A retried buffering (redelivery) after the ACK makes nothing again.
    assert set(await buffer.buffer([Pending(note(f"e{i}"), None) for i in range(rounds)])) == {
        BufferOutcome.DUPLICATE}


async def test_ack_against_expiry(clients: tuple[Redis, Redis], redis: Redis,
                                  names: Names) -> None:
    sweeper_client, acker = clients
    buffer = make_buffer(acker, names)
    queue = ExpiryQueue(sweeper_client, names.keys)
    store = PendingStore(acker, names.keys)
    deadline = time.monotonic() + scaled(TIME_BUDGET_S)
    acked: set[str] = set()
    made: list[str] = []
    later_ms = 10**13
    for i in range(ROUNDS):
        if time.monotonic() > deadline:
            break
        n = note(f"e{i}", ttl=1)
        await buffer.buffer([Pending(n, None)])
        made.append(n.id)

        async def sweep() -> None:
            due = await queue.lease_and_due("me", 10_000, later_ms, 100)
            assert due is not None
            await queue.expire(due.parsed)
            await queue.drop(due.members)

        [outcome], _ = await asyncio.gather(
            store.ack_many([AckRequest("default", "bob", (n.id,))]), sweep())
        assert not isinstance(outcome, RedisError), outcome
        answer, _ = outcome
        acked.update(answer)
    assert len(made) >= 20, "too few rounds to mean anything"
    assert await user_state(redis, names) == (set(), set())
    assert await redis.zcard(names.keys.expiry_index) == 0
    rows = await stream_rows(redis, names)
    assert Counter(i for i, _, _ in rows) == Counter(made)  # exactly one entry each
    assert {i for i, s, _ in rows if s == "acked"} == acked
