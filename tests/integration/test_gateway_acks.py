"""ACKs coalesced across connections (``AckBatcher`` → ``PendingStore.ack_many``), against the
real Redis; the notifications are buffered by the consumer's own code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.buffer.inbox import NotificationBuffer, Pending
from common.buffer.pending import AckRequest, PendingStore
from common.models import Event
from common.naming import Names
from common.records import Status
from consumer.rules import build_notifications
from tests.conftest import REDIS_URL
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.proxy import TcpProxy
from tests.support.reference import decode_entry
from tests.support.replies import entries
from tests.support.ws import Client
from ws_gateway.ack_batcher import AckBatcher

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway_redis() -> AsyncIterator[Redis]:
    """A client that answers bytes, as the gateway's does."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def buffer_for(redis: Redis, names: Names, user: str, count: int,
                     tenant: str = "default") -> list[str]:
    """``count`` notifications pending for ``user``, buffered as the consumer does; their ids."""
    buffer = NotificationBuffer(redis, names.keys, rate_limit_count=10**6,
                                rate_limit_window_ms=60_000, semantic_window_ms=0,
                                dedup_ttl_ms=600_000, max_pending=10_000)
    ids = []
    for n in range(count):
        event = Event.model_validate_json(event_body(f"{tenant}-{user}-{n}", recipients=[user],
                                                     postId=f"p{n}", tenantId=tenant))
        [note] = build_notifications(event, datetime.now(UTC), 600)
        await buffer.buffer([Pending(note, None)])
        ids.append(note.id)
    return ids


async def stream_ids(redis: Redis, names: Names) -> list[str]:
    rows = entries(await redis.xrange(names.keys.persist_stream))
    records = [decode_entry(fields) for _, fields in rows]
    assert all(r.status is Status.ACKED for r in records)
    return [r.notification.id for r in records]


def batches() -> float:
    return REGISTRY.get_sample_value("herald_gateway_ack_batches_total") or 0.0


async def test_acks_of_many_connections_at_once_are_all_recorded_then_removed_in_few_batches(
    gateway_redis: Redis, redis: Redis, names: Names
) -> None:
    users = [f"many{n}" for n in range(60)]
    ids = {user: await buffer_for(gateway_redis, names, user, 2) for user in users}
    batcher = AckBatcher(PendingStore(gateway_redis, names.keys), max_delay=0.005)
    before = batches()
    answers = await asyncio.gather(*(batcher.ack("default", user, tuple(ids[user]))
                                     for user in users))
    assert answers == [(ids[user], []) for user in users]
    assert batches() - before < len(users) / 4  # shared round trips, not one per ACK
    assert sorted(await stream_ids(redis, names)) == sorted(i for u in users for i in ids[u])
    for user in users:
        assert await buffered(redis, names, user) == {}
        assert await redis.zcard(names.keys.pending_index("default", user)) == 0
    await batcher.close()


async def test_an_ack_of_another_users_id_in_the_same_batch_changes_nothing(
    gateway_redis: Redis, redis: Redis, names: Names
) -> None:
    [carols] = await buffer_for(gateway_redis, names, "carol", 1)
    [bobs] = await buffer_for(gateway_redis, names, "bob", 1)
    [acme_carols] = await buffer_for(gateway_redis, names, "carol", 1, tenant="acme")
    batcher = AckBatcher(PendingStore(gateway_redis, names.keys), max_delay=0.005)
    bob_answer, acme_answer = await asyncio.gather(
        batcher.ack("default", "bob", (carols, bobs, acme_carols)),
        batcher.ack("acme", "carol", (carols,)))
    assert bob_answer == ([bobs], [carols, acme_carols])
    assert acme_answer == ([], [carols])
    assert set(await buffered(redis, names, "carol")) == {carols}
    assert set(await buffered(redis, names, "carol", tenant="acme")) == {acme_carols}
    assert await stream_ids(redis, names) == [bobs]
    await batcher.close()


async def test_a_failed_stream_write_removes_nothing(
    gateway_redis: Redis, redis: Redis, names: Names
) -> None:
    """XADD fails while HDEL would still succeed (as with Redis out of memory: HDEL is allowed
    then): the notification stays pending and the caller learns it was not recorded."""
    ids = await buffer_for(gateway_redis, names, "bob", 2)
    await redis.set(names.keys.persist_stream, "not a stream")  # every XADD now fails: WRONGTYPE
    store = PendingStore(gateway_redis, names.keys)
    [outcome] = await store.ack_many([AckRequest("default", "bob", tuple(ids))])
    assert isinstance(outcome, RedisError)
    assert "WRONGTYPE" in str(outcome)
    assert set(await buffered(redis, names, "bob")) == set(ids)
    assert await redis.zcard(names.keys.pending_index("default", "bob")) == 2

    batcher = AckBatcher(store)
    with pytest.raises(RedisError):
        await batcher.ack("default", "bob", (ids[0],))
    assert set(await buffered(redis, names, "bob")) == set(ids)
    await batcher.close()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy("127.0.0.1", 6379).start()
    yield proxy
    await proxy.cut()


async def test_redis_away_during_an_ack_answers_try_again_and_removes_nothing(
    services: Callable[..., Service], redis_proxy: TcpProxy, gateway_redis: Redis,
    redis: Redis, names: Names,
) -> None:
    gateway = await services("ws_gateway",
                             REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0").start()
    [note_id] = await buffer_for(gateway_redis, names, "bob", 1)
    bob, ok = await Client.authed(gateway.url, "bob")
    assert ok["pending"] == 1
    assert [n["id"] for n in await bob.notifications(1)] == [note_id]

    await redis_proxy.cut()
    await bob.send({"type": "ACK", "notificationId": note_id})
    answer = await bob.recv(timeout=30)
    assert answer["type"] == "ERROR"
    assert answer["code"] == "TRY_AGAIN"
    assert answer["notificationIds"] == [note_id]  # what to send again
    assert set(await buffered(redis, names, "bob")) == {note_id}
    assert await redis.xlen(names.keys.persist_stream) == 0

    await redis_proxy.restore()
    assert await bob.ack(note_id) == {"type": "ACK_OK", "notificationIds": [note_id],
                                      "unknown": []}
    assert await buffered(redis, names, "bob") == {}
    assert await stream_ids(redis, names) == [note_id]
    await bob.close()
