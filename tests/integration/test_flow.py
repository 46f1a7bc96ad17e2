"""producer → RabbitMQ → consumer → Redis, as real processes driven over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from common.models import notification_id
from common.naming import Names
from tests.support.events import buffered
from tests.support.processes import Service
from tests.support.timing import eventually

pytestmark = pytest.mark.integration


async def test_http_event_reaches_the_redis_buffer(
    services: Callable[..., Service], redis: Redis, names: Names
) -> None:
    producer = await services("producer").start()
    await services("consumer").start()
    async with httpx.AsyncClient(base_url=producer.url, headers=producer.headers) as client:
        one = await client.post("/v1/events", json={
            "type": "MENTION", "actorId": "alice", "targetIds": ["bob", "carol"],
            "postId": "p9", "text": "look @bob @carol"})
        seed = await client.post("/follow", json={"actorId": "dave", "targetId": "bob"})
        repeat = [await client.post("/v1/events", json={
            "eventId": "same", "type": "FOLLOW", "actorId": "erin", "targetId": "bob"})
            for _ in range(3)]
    assert one.status_code == seed.status_code == 202
    assert {r.status_code for r in repeat} == {202}

    # FOLLOW digests per recipient: dave's follow opened it, erin's (three times the same
    # eventId: once) joined it.
    found = await eventually(lambda: buffered(redis, names, "bob"),
                             lambda f: any(n.get("count") == 2 for n in f.values()))
    by_event = {n["eventId"]: n for n in found.values()}
    assert set(by_event) == {one.json()["eventId"], seed.json()["eventId"]}
    follow = by_event[seed.json()["eventId"]]
    assert follow["id"] == notification_id("default", seed.json()["eventId"], "bob")
    assert follow["message"] == "erin and 1 other started following you"
    assert (follow["actors"], follow["version"]) == (["erin", "dave"], 2)
    assert by_event[one.json()["eventId"]]["message"] == 'alice mentioned you: "look @bob @carol"'
    carol = await eventually(lambda: buffered(redis, names, "carol"), lambda f: len(f) == 1)
    assert next(iter(carol.values()))["eventId"] == one.json()["eventId"]
