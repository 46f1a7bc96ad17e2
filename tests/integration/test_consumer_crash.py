"""Kill the consumer mid-batch (SIGKILL) or stop it (SIGTERM) while it catches up: every
accepted event still becomes its notification, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.models import notification_id
from common.naming import Names
from tests.support.amqp import queue_depth
from tests.support.events import event_body, total_buffered
from tests.support.processes import Service
from tests.support.replies import texts
from tests.support.timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.faults]

USERS = [f"u{n}" for n in range(50)]
EVENTS = 5000


async def fill_queue(channel: AbstractChannel, names: Names, count: int) -> set[str]:
    """Publish ``count`` confirmed events straight to the exchange; their notification ids."""
    # Declare the topology as the services would, so nothing is unroutable before they start.
    from common.topology import declare_topology

    topology = await declare_topology(channel, names, delivery_limit=20)
    expected: set[str] = set()
    for start in range(0, count, 500):
        batch = []
        for n in range(start, min(start + 500, count)):
            user = USERS[n % len(USERS)]
            body = event_body(f"ev-{n}", actorId=f"actor-{n}", recipients=[user], postId=f"p{n}")
            expected.add(f"{user}|{notification_id('default', f'ev-{n}', user)}")
            batch.append(topology.events.publish(
                aio_pika.Message(body, message_id=f"ev-{n}",
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="event.like"))
        await asyncio.gather(*batch)
    return expected


async def buffered_ids(redis: Redis, names: Names) -> set[str]:
    found: set[str] = set()
    for user in USERS:
        ids = texts(await redis.hkeys(names.keys.pending_hash("default", user)))
        found |= {f"{user}|{nid}" for nid in ids}
    return found


@pytest.fixture
def consumer(services: Callable[..., Service]) -> Service:
    return services("consumer", RATE_LIMIT_COUNT="1000000", PREFETCH="128")


async def test_sigkill_mid_batch_then_restart_loses_nothing(
    consumer: Service, channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    expected = await fill_queue(channel, names, EVENTS)
    consumer.spawn()
    at_kill = await eventually(lambda: total_buffered(redis, names, USERS),
                               lambda n: n >= 300, timeout=20, interval=0.005)
    consumer.kill()
    at_kill = await total_buffered(redis, names, USERS)
    assert at_kill < EVENTS, "the kill came too late to test anything"

    consumer.spawn()
    await consumer.wait_up()
    await eventually(lambda: total_buffered(redis, names, USERS), lambda n: n >= EVENTS,
                     timeout=60)
    await eventually(lambda: queue_depth(channel, names.notify_queue), lambda d: d == 0)
    assert await buffered_ids(redis, names) == expected
    assert await queue_depth(channel, names.dead_letter_queue) == 0


async def test_sigterm_drains_exits_0_and_the_rest_waits_in_the_queue(
    consumer: Service, channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    expected = await fill_queue(channel, names, EVENTS)
    consumer.spawn()
    await eventually(lambda: total_buffered(redis, names, USERS), lambda n: n >= 300,
                     timeout=20, interval=0.005)
    assert await consumer.terminate() == 0
    after_stop = await total_buffered(redis, names, USERS)
    if after_stop < EVENTS:
        # Everything not buffered is back in the queue, not lost in the stopped process. A
        # few buffered ones may be back too: when the drain's channel close races an ack,
        # the broker redelivers them (at least once), and the restart makes nothing twice.
        await eventually(lambda: queue_depth(channel, names.notify_queue),
                         lambda d: EVENTS - after_stop <= d <= EVENTS)

    consumer.spawn()
    await eventually(lambda: total_buffered(redis, names, USERS), lambda n: n >= EVENTS,
                     timeout=60)
    assert await buffered_ids(redis, names) == expected


async def test_acks_held_back_when_killed_are_redelivered_and_make_nothing_new(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    """Acks wait up to ACK_DELAY_SECONDS: a consumer killed before sending them has its
    buffered events redelivered, and the redelivery adds no notification."""
    slow_acks = services("consumer", RATE_LIMIT_COUNT="1000000", ACK_DELAY_SECONDS="30")
    expected = await fill_queue(channel, names, 10)
    await slow_acks.start()
    await eventually(lambda: total_buffered(redis, names, USERS), lambda n: n == 10)
    slow_acks.kill()
    # Nothing was acked yet: all ten come back to the queue.
    depth = await eventually(lambda: queue_depth(channel, names.notify_queue),
                             lambda d: d == 10)
    assert depth == 10

    prompt = services("consumer", RATE_LIMIT_COUNT="1000000", ACK_DELAY_SECONDS="0.005")
    await prompt.start()
    await eventually(lambda: queue_depth(channel, names.notify_queue), lambda d: d == 0)
    assert await buffered_ids(redis, names) == expected
    assert await total_buffered(redis, names, USERS) == 10
    assert await queue_depth(channel, names.dead_letter_queue) == 0
