"""The consumer as a real process, fed through the real RabbitMQ, checked in the real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.models import notification_id
from common.naming import Names
from common.topology import REASON_HEADER
from tests.support.amqp import publish_raw, queue_depth, read_queue
from tests.support.events import actor_window_over, buffered, event_body
from tests.support.metrics import metric
from tests.support.processes import Service
from tests.support.proxy import TcpProxy
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration


@pytest.fixture
def consumer(services: Callable[..., Service]) -> Callable[..., Service]:
    def make(**env: str) -> Service:
        return services("consumer", NOTIFICATION_TTL_SECONDS="60", **env)

    return make


async def wait_buffered(redis: Redis, names: Names, user: str, count: int
                        ) -> dict[str, dict[str, Any]]:
    async def probe() -> dict[str, dict[str, Any]]:
        return await buffered(redis, names, user)

    return await eventually(probe, lambda found: len(found) >= count)


async def test_event_becomes_one_notification_per_recipient(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    await consumer().start()
    body = event_body("ev-1", type="COMMENT", recipients=["bob", "carol"], text="lovely")
    await publish_raw(channel, names, body, "event.comment", "ev-1")

    for user in ("bob", "carol"):
        [(nid, note)] = (await wait_buffered(redis, names, user, 1)).items()
        assert nid == note["id"] == notification_id("default", "ev-1", user)
        assert note["userId"] == user
        assert note["actorId"] == "alice"
        assert note["message"] == 'alice commented on your post: "lovely"'
        assert note["priority"] == "transactional"
        assert note["type"] == "COMMENT"
        # TTL: expiresAt is createdAt + NOTIFICATION_TTL_SECONDS; the pending keys have no
        # Redis TTL of their own (the sweeper moves it to the store as expired, its index
        # member below): nothing leaves Redis without its record.
        created = note["createdAt"]
        assert note["expiresAt"] > created
        assert await redis.pexpiretime(names.keys.pending_hash("default", user)) == -1
        assert await redis.zscore(names.keys.pending_index("default", user), nid) is not None
        assert await redis.zscore(names.keys.expiry_index, f"default|{user}|{nid}") is not None
    assert await queue_depth(channel, names.notify_queue) == 0


async def test_gateways_are_signalled_on_the_users_channel(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    await consumer().start()
    pubsub = redis.pubsub()
    await pubsub.subscribe(names.keys.live_channel("default", "bob"))
    await publish_raw(channel, names, event_body("ev-live"), message_id="ev-live")
    deadline = time.monotonic() + scaled(10)
    message = None
    while message is None and time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    await pubsub.aclose()
    assert message is not None
    assert orjson.loads(message["data"])["id"] == notification_id("default", "ev-live", "bob")


async def test_the_same_event_id_three_times_makes_one_notification(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    service = await consumer().start()
    for _ in range(3):
        await publish_raw(channel, names, event_body("ev-dup"), message_id="ev-dup")
    await publish_raw(channel, names, event_body("ev-marker", actorId="zed", postId="p9"))
    # All four handled (the consumer counted each one's outcome), not just the first two seen:
    # only then can a duplicate that made a notification of its own show up.
    await eventually(lambda: metric(service, "herald_consumer_events_total"), lambda n: n >= 4)
    assert await metric(service, "herald_consumer_events_total") == 4
    found = await buffered(redis, names, "bob")
    assert sorted(n["eventId"] for n in found.values()) == ["ev-dup", "ev-marker"]
    # Exact duplicates are not dead-lettered: their notification exists.
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_a_like_burst_is_one_notification_and_nothing_is_dead_lettered(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    service = await consumer().start()
    for n in range(4):  # like, unlike, like, unlike...: four events, one action
        await publish_raw(channel, names, event_body(f"burst-{n}", postId="p1"),
                          message_id=f"burst-{n}")
    await publish_raw(channel, names, event_body("other-post", postId="p2"))
    await eventually(lambda: metric(service, "herald_consumer_events_total"), lambda n: n >= 5)
    # LIKE digests: the same actor again is counted once (outcome "repeated"), no dead letter.
    assert await metric(service, "herald_consumer_events_total", outcome="repeated") == 3
    assert await queue_depth(channel, names.dead_letter_queue) == 0
    found = await buffered(redis, names, "bob")
    assert sorted(n["eventId"] for n in found.values()) == ["burst-0", "other-post"]
    assert {n["count"] for n in found.values()} == {1}


async def test_an_identical_comment_twice_collapses_and_is_dead_lettered_with_reason(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    await consumer().start()
    for n in range(3):  # types without a digest window keep the semantic-duplicate rule
        await publish_raw(channel, names, event_body(f"burst-{n}", type="COMMENT", text="hi",
                                                     postId="p1"), message_id=f"burst-{n}")
    dead = await read_queue(channel, names.dead_letter_queue, 2)
    assert {m.headers[REASON_HEADER] for m in dead} == {"semantic_duplicate"}
    assert sorted(str(m.message_id) for m in dead) == ["burst-1", "burst-2"]
    assert orjson.loads(dead[0].body)["recipients"] == ["bob"]
    found = await buffered(redis, names, "bob")
    assert sorted(n["eventId"] for n in found.values()) == ["burst-0"]


async def test_invalid_messages_are_dead_lettered_and_never_block_the_queue(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    service = await consumer().start()
    poison = [
        b"not json at all",
        b"\xff\xfe\xfa invalid utf-8",
        orjson.dumps({"eventId": "no-type", "actorId": "a"}),
        orjson.dumps({"eventId": "self", "type": "FOLLOW", "actorId": "a", "recipients": ["a"],
                      "occurredAt": "2026-01-01T00:00:00Z", "acceptedAt": "2026-01-01T00:00:00Z"}),
        b"",
    ]
    for index, body in enumerate(poison):
        await publish_raw(channel, names, body, message_id=f"poison-{index}")
    await publish_raw(channel, names, event_body("good"), message_id="good")

    await wait_buffered(redis, names, "bob", 1)
    dead = await read_queue(channel, names.dead_letter_queue, len(poison))
    assert {m.headers[REASON_HEADER] for m in dead} == {"invalid"}
    details = {m.message_id: str(m.headers["x-herald-detail"]) for m in dead}
    assert "type" in details["poison-2"]
    assert "actorId must not be one of the recipients" in details["poison-3"]
    assert sorted(m.body for m in dead) == sorted(poison)  # the original bytes, kept
    async with httpx.AsyncClient() as client:
        assert (await client.get(service.url + "/readyz")).status_code == 200
        metrics = (await client.get(service.url + "/metrics")).text
    assert 'herald_consumer_events_total{outcome="invalid"} 5.0' in metrics


async def test_rate_limit_holds_then_a_steady_sender_recovers(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    await consumer(RATE_LIMIT_COUNT="3", RATE_LIMIT_WINDOW_SECONDS="1",
                   SEMANTIC_WINDOW_SECONDS="0").start()
    for n in range(8):
        await publish_raw(channel, names, event_body(f"burst-{n}", postId=f"p{n}"))
    # The platform's own messages are never limited.
    await publish_raw(channel, names, event_body("sys", type="SYSTEM", text="hello",
                                                 postId=None, actorId="alice"))
    dead = await read_queue(channel, names.dead_letter_queue, 5)
    assert {m.headers[REASON_HEADER] for m in dead} == {"rate_limited"}
    assert len(await wait_buffered(redis, names, "bob", 4)) == 4

    # A limiter that re-arms its window on every event would keep this sender out for good.
    await actor_window_over(redis, names, "alice")
    for n in range(5):
        await publish_raw(channel, names, event_body(f"steady-{n}", postId=f"s{n}"))
        await asyncio.sleep(0.5)  # the sender's pace (2 a window of 3): the input, not a wait
    found = await wait_buffered(redis, names, "bob", 9)
    assert sum(1 for n in found.values() if n["eventId"].startswith("steady-")) == 5
    assert await queue_depth(channel, names.dead_letter_queue) == 0


@pytest.fixture
async def redis_proxy() -> AsyncIterator[TcpProxy]:
    """A cuttable connection to the real Redis, for outage tests."""
    proxy = await TcpProxy("127.0.0.1", 6379).start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def behind_proxy(consumer: Callable[..., Service], redis_proxy: TcpProxy) -> Service:
    """A consumer whose Redis connection goes through ``redis_proxy``."""
    return await consumer(REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0",
                          RETRY_MAX_SECONDS="0.5").start()


async def test_redis_down_acks_nothing_and_the_consumer_resumes(
    behind_proxy: Service, redis_proxy: TcpProxy, channel: AbstractChannel, redis: Redis,
    names: Names,
) -> None:
    service, proxy = behind_proxy, redis_proxy
    await proxy.cut()
    for n in range(20):
        await publish_raw(channel, names, event_body(f"outage-{n}", actorId=f"a{n}"))
    # It has the batch and has met the outage (retried, and says it is not ready) ...
    await eventually(lambda: metric(service, "herald_consumer_retries_total"), lambda r: r >= 2)
    async with httpx.AsyncClient() as client:
        await eventually(lambda: client.get(service.url + "/readyz"),
                         lambda answer: answer.status_code == 503)
    # ... and has buffered none of it.
    assert await buffered(redis, names, "bob") == {}

    # Killed now, nothing it held may have been acked: all 20 are back in the queue.
    service.kill()
    depth = await eventually(lambda: queue_depth(channel, names.notify_queue),
                             lambda d: d == 20)
    assert depth == 20

    await proxy.restore()
    service.spawn()
    await service.wait_up()
    found = await wait_buffered(redis, names, "bob", 20)
    assert len(found) == 20


async def test_redis_outage_is_ridden_out_without_a_restart(
    behind_proxy: Service, redis_proxy: TcpProxy, channel: AbstractChannel, redis: Redis,
    names: Names,
) -> None:
    service, proxy = behind_proxy, redis_proxy
    await proxy.cut()
    await publish_raw(channel, names, event_body("during"), message_id="during")
    # Restored only once the consumer has met the outage with the event in hand.
    await eventually(lambda: metric(service, "herald_consumer_retries_total"), lambda r: r >= 1)
    await proxy.restore()
    await wait_buffered(redis, names, "bob", 1)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(service.url + "/metrics")).text
    assert "herald_consumer_retries_total" in metrics
    assert service.starts == 1
    assert service.proc is not None
    assert service.proc.poll() is None


async def test_a_hung_redis_times_the_batch_out_and_it_is_retried(
    consumer: Callable[..., Service], redis_proxy: TcpProxy, channel: AbstractChannel,
    redis: Redis, names: Names,
) -> None:
    """Redis accepts the connection but answers nothing: each attempt ends at the pipeline's
    deadline, nothing is acked, and the event is buffered once Redis answers again."""
    service = await consumer(REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0",
                             REDIS_TIMEOUT_SECONDS="0.3", RETRY_MAX_SECONDS="0.3").start()
    redis_proxy.freeze()
    await publish_raw(channel, names, event_body("hung"), message_id="hung")

    assert await eventually(lambda: metric(service, "herald_consumer_retries_total"),
                            lambda n: n >= 2, timeout=10) >= 2
    assert await buffered(redis, names, "bob") == {}
    redis_proxy.thaw()
    found = await wait_buffered(redis, names, "bob", 1)
    assert [n["eventId"] for n in found.values()] == ["hung"]
    depth = await eventually(lambda: queue_depth(channel, names.notify_queue), lambda d: d == 0)
    assert depth == 0
