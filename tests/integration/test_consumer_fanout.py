"""Fan-out of a topic event (issue 20) by the consumer as a real process, through the real
RabbitMQ and Redis, the subscribers in the real SQLite store the consumer reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.buffer.fanout import FanoutLedger, FanoutRecord
from common.millis import to_ms
from common.models import notification_id
from common.naming import Names
from common.store.sqlite import SqliteStore
from common.topology import declare_topology
from tests.support.amqp import publish_raw, queue_depth
from tests.support.events import event_body
from tests.support.metrics import metric
from tests.support.processes import Service
from tests.support.replies import texts
from tests.support.timing import eventually

pytestmark = pytest.mark.integration

TOPIC = "followers:alice"


@pytest.fixture
async def store(base_env: dict[str, str]) -> AsyncIterator[SqliteStore]:
    """The consumer's own store (the same SQLite file), where the test subscribes users."""
    opened = await SqliteStore.open(base_env["STORE_URL"].removeprefix("sqlite:///"))
    yield opened
    await opened.close()


@pytest.fixture
def ledger(raw_redis: Redis, names: Names) -> FanoutLedger:
    return FanoutLedger(raw_redis, names.keys)


def users(count: int, prefix: str = "u") -> list[str]:
    return [f"{prefix}{n:06d}" for n in range(count)]


def topic_event(event_id: str, topic: str = TOPIC, **over: object) -> bytes:
    return event_body(event_id, type="SYSTEM", text="alice posted", postId=None,
                      recipients=[], topic=topic, **over)


async def subscribe(store: SqliteStore, user_ids: list[str], at: datetime | None = None,
                    topic: str = TOPIC) -> None:
    when = at if at is not None else datetime.now(UTC) - timedelta(seconds=1)
    for start in range(0, len(user_ids), 5000):
        await store.subscribe("default", topic, user_ids[start:start + 5000], when)


async def finished(ledger: FanoutLedger, event_id: str, timeout: float = 60
                   ) -> FanoutRecord:
    async def probe() -> FanoutRecord | None:
        return await ledger.get("default", event_id)

    record = await eventually(probe, lambda r: r is not None and r.state != "running",
                              timeout=timeout, interval=0.1)
    assert record is not None
    return record


async def made_for(redis: Redis, names: Names, user_ids: list[str]) -> dict[str, list[str]]:
    """Each user's pending notification ids."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(user_ids), 1000):
        part = user_ids[start:start + 1000]
        async with redis.pipeline(transaction=False) as pipe:
            for user in part:
                pipe.hkeys(names.keys.pending_hash("default", user))
            replies = await pipe.execute()
        found.update({user: texts(ids) for user, ids in zip(part, replies, strict=True)})
    return found


def assert_exactly_once(found: dict[str, list[str]], event_id: str) -> None:
    wrong = {u: ids for u, ids in found.items()
             if ids != [notification_id("default", event_id, u)]}
    assert not wrong, f"{len(wrong)} users without exactly one: {list(wrong.items())[:5]}"


@pytest.fixture
def consumer(services: Callable[..., Service]) -> Callable[..., Service]:
    def make(**env: str) -> Service:
        return services("consumer", NOTIFICATION_TTL_SECONDS="600", **env)

    return make


async def test_ten_thousand_subscribers_get_one_notification_each_and_not_the_actor(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    audience = users(10_000)
    await subscribe(store, [*audience, "alice"])
    await consumer().start()
    await publish_raw(channel, names, topic_event("post-1"), "event.system", "post-1")

    record = await finished(ledger, "post-1")
    assert record.state == "done"
    assert record.counts["recipients"] == 10_000
    assert record.counts["made"] == 10_000
    assert record.counts["pages"] == 21  # 10,001 subscribers in pages of 500
    assert_exactly_once(await made_for(redis, names, audience), "post-1")
    assert await made_for(redis, names, ["alice"]) == {"alice": []}
    assert await queue_depth(channel, names.fanout_queue) == 0
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_a_consumer_killed_mid_fanout_then_restarted_makes_each_exactly_once(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    audience = users(5000)
    await subscribe(store, audience)
    service = consumer(FANOUT_PAGE_SIZE="50", FANOUT_LEASE_SECONDS="1")
    await declare_topology(channel, names, delivery_limit=20)
    await publish_raw(channel, names, topic_event("post-k"), "event.system", "post-k")
    service.spawn()

    async def pages() -> int:
        record = await ledger.get("default", "post-k")
        return record.counts["pages"] if record is not None else 0

    await eventually(pages, lambda n: n >= 5, timeout=30, interval=0.01)
    service.kill()
    at_kill = await pages()
    assert at_kill < 100, "the kill came too late to test anything"
    service.spawn()
    await service.wait_up()
    # Killed once more, in the middle of the rest.
    await eventually(pages, lambda n: n >= at_kill + 5, timeout=30, interval=0.01)
    service.kill()
    service.spawn()
    await service.wait_up()

    record = await finished(ledger, "post-k")
    assert record.state == "done"
    assert record.counts["pages"] == 101  # 5000 in pages of 50, then an empty one
    assert record.counts["recipients"] == 5000
    assert_exactly_once(await made_for(redis, names, audience), "post-k")
    await eventually(lambda: queue_depth(channel, names.fanout_queue), lambda d: d == 0)
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_a_cancelled_fanout_stops(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    audience = users(5000)
    await subscribe(store, audience)
    service = await consumer(FANOUT_PAGE_SIZE="20").start()
    await publish_raw(channel, names, topic_event("post-c"), "event.system", "post-c")

    async def pages() -> int:
        record = await ledger.get("default", "post-c")
        return record.counts["pages"] if record is not None else 0

    await eventually(pages, lambda n: n >= 2, timeout=30, interval=0.01)
    assert await ledger.cancel("default", "post-c", to_ms(datetime.now(UTC))) == "cancelled"
    # The chunk in flight ends (made and counted); the one after it is taken and makes
    # nothing, and publishes no successor.
    await eventually(lambda: queue_depth(channel, names.fanout_queue), lambda d: d == 0)

    async def made_and_counted() -> tuple[int, int]:
        made = sum(len(ids) for ids in (await made_for(redis, names, audience)).values())
        record = await ledger.get("default", "post-c")
        assert record is not None
        return made, record.counts["made"]

    made, _ = await eventually(made_and_counted, lambda pair: pair[0] == pair[1])
    assert made < 5000
    record = await ledger.get("default", "post-c")
    assert record is not None
    assert record.state == "cancelled"
    await eventually(lambda: metric(service, "herald_consumer_fanout_chunks_total",
                                    outcome="cancelled"), lambda n: n >= 1)


async def test_the_snapshot_rule_leaves_out_who_subscribed_after_the_start(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    before, after = users(300, "b"), users(300, "a")
    await subscribe(store, before)
    # Subscribed after the fan-out started (their subscription time is later than its start).
    await subscribe(store, after, at=datetime.now(UTC) + timedelta(hours=1))
    await consumer(FANOUT_PAGE_SIZE="100").start()
    await publish_raw(channel, names, topic_event("post-s"), "event.system", "post-s")

    record = await finished(ledger, "post-s")
    assert record.counts["recipients"] == 300
    assert_exactly_once(await made_for(redis, names, before), "post-s")
    assert all(not ids for ids in (await made_for(redis, names, after)).values())


async def test_a_user_reached_through_the_topic_and_directly_gets_one(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    audience = users(50)
    await subscribe(store, audience)
    await consumer().start()
    direct = event_body("post-d", type="SYSTEM", text="alice posted", postId=None,
                        recipients=[audience[7]])
    await publish_raw(channel, names, direct, "event.system", "post-d")
    await eventually(lambda: made_for(redis, names, [audience[7]]),
                     lambda found: len(found[audience[7]]) == 1)
    await publish_raw(channel, names, topic_event("post-d"), "event.system", "post-d")

    record = await finished(ledger, "post-d")
    assert record.counts["made"] == 49
    assert record.counts["duplicate"] == 1
    assert_exactly_once(await made_for(redis, names, audience), "post-d")


async def test_a_broadcast_reaches_every_known_user(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    known = users(120, "k")
    await store.add_known_users("default", [*known, "alice"], datetime.now(UTC))
    await consumer(FANOUT_PAGE_SIZE="50").start()
    await publish_raw(channel, names, topic_event("all-1", topic="*"), "event.system", "all-1")

    record = await finished(ledger, "all-1")
    assert record.counts["recipients"] == 120
    assert_exactly_once(await made_for(redis, names, known), "all-1")
    assert await made_for(redis, names, ["alice"]) == {"alice": []}


async def test_a_redelivered_topic_event_starts_one_fanout(
    consumer: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
    store: SqliteStore, ledger: FanoutLedger,
) -> None:
    audience = users(200)
    await subscribe(store, audience)
    await declare_topology(channel, names, delivery_limit=20)
    for _ in range(3):
        await publish_raw(channel, names, topic_event("post-r"), "event.system", "post-r")
    await consumer(FANOUT_PAGE_SIZE="30").start()

    await finished(ledger, "post-r")
    await eventually(lambda: queue_depth(channel, names.fanout_queue), lambda d: d == 0)
    record = await ledger.get("default", "post-r")
    assert record is not None
    assert record.counts["pages"] == 7
    assert record.counts["recipients"] == 200
    assert_exactly_once(await made_for(redis, names, audience), "post-r")
