"""The buffer on a full Redis (``maxmemory`` with ``noeviction``, a server of the test's own):
making notifications is refused, and every way out — ACK, mark-read, expiry, erasure —
still works, so a full buffer drains as users connect or notifications expire; once it has,
making them works again. Nothing is lost: every notification ends in the persist stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from common.buffer.erasure import RedisErasure
from common.buffer.expiry import ExpiryQueue
from common.buffer.inbox import BufferOutcome, Pending
from common.buffer.pending import AckRequest, PendingStore
from common.models import Notification
from common.naming import Names
from common.redis_memory import read_memory
from tests.support.buffer import make_buffer, note, stream_rows, user_state
from tests.support.redis_server import redis_server

pytestmark = pytest.mark.integration

PAD = "x" * 2000  # a bulky notification, so a few hundred fill a few MB


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    async with redis_server(tmp_path, "--maxmemory", "3mb",
                            "--maxmemory-policy", "noeviction") as found:
        yield found


@pytest.fixture
async def full_redis(port: int) -> AsyncIterator[Redis]:
    """A client answering bytes, as the services' do."""
    client = Redis(host="127.0.0.1", port=port)
    yield client
    await client.aclose()


@pytest.fixture
async def text(port: int) -> AsyncIterator[Redis]:
    """The same Redis answering text, for reading its state."""
    client = Redis(host="127.0.0.1", port=port, decode_responses=True)
    yield client
    await client.aclose()


async def fill(redis: Redis, names: Names, users: list[str], most: int = 5000,
               ) -> list[Notification]:
    """Buffer bulky notifications round-robin to ``users`` until Redis refuses one."""
    buffer = make_buffer(redis, names)
    made: list[Notification] = []
    for i in range(most):
        n = note(f"fill-{i}", users[i % len(users)], ttl=3600, type="COMMENT", text=PAD[:500])
        try:
            assert await buffer.buffer([Pending(n, None)]) == [BufferOutcome.BUFFERED]
        except OutOfMemoryError:
            return made
        made.append(n)
    raise AssertionError(f"{most} notifications did not fill a 3 MB Redis")


async def test_a_full_buffer_drains_by_ack_mark_read_expiry_and_erasure(
    full_redis: Redis, text: Redis, names: Names,
) -> None:
    users = ["bob", "carol", "dave", "erin"]
    made = await fill(full_redis, names, users)
    assert len(made) > 20
    state = await read_memory(full_redis)
    assert state.policy == "noeviction"
    assert state.used >= state.limit * 0.9
    by_user = {u: [n for n in made if n.userId == u] for u in users}

    store = PendingStore(full_redis, names.keys)
    # ACK: bob's, all of them, in one request
    [outcome] = await store.ack_many([AckRequest("default", "bob",
                                                 tuple(n.id for n in by_user["bob"]))])
    assert not isinstance(outcome, Exception), outcome
    assert sorted(outcome[0]) == sorted(n.id for n in by_user["bob"])
    # mark-read: one of carol's
    assert await store.mark_read("default", "carol", by_user["carol"][0].id, 1234)
    # erasure: dave
    erased = await RedisErasure(full_redis, names.keys, 3600).erase("default", "dave")
    assert erased.pending == len(by_user["dave"])
    # expiry: erin's, as the sweeper would once they are due
    queue = ExpiryQueue(full_redis, names.keys)
    found = await queue.lease_and_due("sweeper", 10_000, 2**50, 10_000)
    assert found is not None
    erin = [d for d in found.parsed if d.user == "erin"]
    assert await queue.expire(erin) == len(by_user["erin"])

    rows = await stream_rows(text, names)
    statuses = {(nid, status) for nid, status, _ in rows}
    assert {(n.id, "acked") for n in by_user["bob"]} <= statuses
    assert (by_user["carol"][0].id, "acked") in statuses
    assert {(n.id, "expired") for n in by_user["erin"]} <= statuses
    for user in ("bob", "dave", "erin"):
        assert await user_state(text, names, user) == (set(), set())


async def test_once_drained_making_notifications_works_again(
    full_redis: Redis, names: Names,
) -> None:
    made = await fill(full_redis, names, ["bob"])
    store = PendingStore(full_redis, names.keys)
    [outcome] = await store.ack_many([AckRequest("default", "bob", tuple(n.id for n in made))])
    assert not isinstance(outcome, Exception), outcome
    # the persister's part: the stream's entries stored, then trimmed away
    for key in names.keys.persist_streams:
        await full_redis.delete(key)
    later = note("after-drain", "bob")
    assert await make_buffer(full_redis, names).buffer([Pending(later, None)]) == [
        BufferOutcome.BUFFERED]
