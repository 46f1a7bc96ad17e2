"""The dead-letter queue: the broker's delivery limit, and the list/replay CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from common.topology import declare_topology
from tests.support.amqp import publish_raw, queue_depth, read_queue
from tests.support.events import actor_window_over, buffered, event_body
from tests.support.processes import ROOT, Service
from tests.support.timing import eventually

pytestmark = pytest.mark.integration


async def test_a_message_redelivered_past_the_limit_is_dead_lettered_by_the_broker(
    channel: AbstractChannel, names: Names
) -> None:
    topology = await declare_topology(channel, names, delivery_limit=3)
    await publish_raw(channel, names, b"poison", message_id="poison")
    for _ in range(4):  # a consumer that keeps failing on it and hands it back
        message = await topology.notify_queue.get(no_ack=False, fail=False, timeout=5)
        if message is None:
            break
        await message.nack(requeue=True)
    [dead] = await read_queue(channel, names.dead_letter_queue, 1)
    assert dead.message_id == "poison"
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    assert await queue_depth(channel, names.notify_queue) == 0


def dlq(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consumer.dlq", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


async def test_list_then_replay_brings_rate_limited_events_back(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names,
) -> None:
    consumer = await services("consumer", RATE_LIMIT_COUNT="1",
                              RATE_LIMIT_WINDOW_SECONDS="1").start()
    for n in range(3):
        await publish_raw(channel, names, event_body(f"ev-{n}", postId=f"p{n}"),
                          message_id=f"ev-{n}")
    await eventually(lambda: queue_depth(channel, names.dead_letter_queue), lambda d: d == 2)

    listed = dlq(consumer.env, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["messageId"] for r in rows) == ["ev-1", "ev-2"]
    assert {r["reason"] for r in rows} == {"rate_limited"}
    assert {r["routingKey"] for r in rows} == {"event.like"}
    # Listing takes nothing away.
    assert await eventually(lambda: queue_depth(channel, names.dead_letter_queue),
                            lambda d: d == 2) == 2

    refused = dlq(consumer.env, "replay")  # no --yes, no terminal: refuses
    assert refused.returncode == 1

    # Once the actor's window has passed, a replay is admitted (one event per window).
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 1)
    await actor_window_over(redis, names, "alice")
    replayed = dlq(consumer.env, "replay", "--yes", "--limit", "1", "--reason", "rate_limited")
    assert replayed.returncode == 0, replayed.stderr
    assert len(replayed.stdout.splitlines()) == 1
    found = await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 2,
                             timeout=15)
    assert len(found) == 2
