"""A RabbitMQ memory alarm during ingest, on a node of the test's own: the producer answers
``503`` with ``Retry-After`` (at once, once the broker has blocked its connection, instead of
hanging on it), counts it, and takes events again by itself when the alarm clears. Every event
answered ``202`` is buffered: none is lost."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis

from common.models import notification_id
from common.naming import Names
from tests.support.processes import Service
from tests.support.rabbitmq_node import RabbitNode, rabbitmq_node
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT = 3.0


@pytest.fixture
async def node() -> AsyncIterator[RabbitNode]:
    async with rabbitmq_node() as started:
        yield started


async def test_a_memory_alarm_answers_503_at_once_then_ingest_recovers_losing_nothing(
    services: Callable[..., Service], node: RabbitNode, redis: Redis, names: Names,
) -> None:
    env = {"RABBITMQ_URL": node.url, "PUBLISH_TIMEOUT_SECONDS": str(PUBLISH_TIMEOUT)}
    producer, consumer = services("producer", **env), services("consumer", **env)
    await producer.start()
    await consumer.start()
    accepted: list[str] = []
    n = 0

    async def post(client: httpx.AsyncClient) -> httpx.Response:
        nonlocal n
        n += 1
        answer = await client.post(
            "/v1/events", json={"type": "LIKE", "actorId": f"a{n}", "targetId": "bob",
                                "postId": f"p{n}", "eventId": f"alarm-{n}"})
        if answer.status_code == 202:
            accepted.append(answer.json()["eventId"])
        return answer

    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers,
                                 timeout=30) as client:
        for _ in range(5):
            assert (await post(client)).status_code == 202
        await node.memory_alarm(True)
        # The first publish may still go out before the broker blocks the connection (it
        # then waits for its confirm until PUBLISH_TIMEOUT_SECONDS); once blocked, every
        # answer is an immediate 503.
        blocked = await eventually(lambda: post(client), lambda a: a.status_code == 503,
                                   timeout=30)
        assert blocked.headers["Retry-After"] == "2"
        assert blocked.json()["error"] == "broker_unavailable"
        started = time.monotonic()
        refused = [await post(client) for _ in range(5)]
        assert [a.status_code for a in refused] == [503] * 5
        assert time.monotonic() - started < scaled(PUBLISH_TIMEOUT)  # none waited it out
        metrics = (await client.get("/metrics")).text
        assert 'herald_publish_failures_total{reason="blocked"}' in metrics

        await node.memory_alarm(False)
        await eventually(lambda: post(client), lambda a: a.status_code == 202, timeout=30)
        for _ in range(5):
            assert (await post(client)).status_code == 202

    # Nothing answered 202 is lost: each made its notification for bob. (A 503 may still
    # have been published: a publish that timed out waiting for its confirm can be confirmed
    # later, which is why a client retries with the same eventId.)
    wanted = {notification_id("default", event_id, "bob") for event_id in accepted}
    assert len(wanted) >= 11

    async def made() -> set[str]:
        return {str(i) for i in await redis.hkeys(names.keys.pending_hash("default", "bob"))}

    await eventually(made, lambda ids: wanted <= ids, timeout=30)


async def test_a_notify_queue_at_its_length_limit_answers_503_rejected_then_recovers(
    services: Callable[..., Service], node: RabbitNode, names: Names,
) -> None:
    """An operator's policy caps the notify queue (``max-length``; Herald declares it with
    ``x-overflow: reject-publish``): with no consumer, the sixth event is nacked by the broker
    and answered 503 with Retry-After, counted as ``rejected``; once there is room, ingest
    works again by itself."""
    producer = await services("producer", RABBITMQ_URL=node.url,
                              PUBLISH_TIMEOUT_SECONDS=str(PUBLISH_TIMEOUT)).start()
    await node.ctl("set_policy", "--apply-to", "queues", "herald-test-cap",
                   f"^{names.notify_queue.replace('.', '[.]')}$", '{"max-length": 5}')

    async def post(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post(
            "/v1/events", json={"type": "LIKE", "actorId": f"a{n}", "targetId": "bob",
                                "postId": f"p{n}", "eventId": f"cap-{n}"})

    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers,
                                 timeout=30) as client:
        # the policy reaches the queue within a moment: until then events are accepted
        statuses = [(await post(client, n)).status_code for n in range(5)]
        assert statuses == [202] * 5
        refused = await eventually(lambda: post(client, 99), lambda a: a.status_code == 503)
        assert refused.headers["Retry-After"] == "2"
        metrics = (await client.get("/metrics")).text
        assert 'herald_publish_failures_total{reason="rejected"}' in metrics
        await node.ctl("purge_queue", names.notify_queue)
        again = await eventually(lambda: post(client, 100), lambda a: a.status_code == 202)
        assert again.json()["eventId"] == "cap-100"
