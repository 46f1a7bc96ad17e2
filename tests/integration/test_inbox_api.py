"""The inbox states over the read API (issue 20) against the real Redis, RabbitMQ and a
real SQLite store: marks of pending and stored notifications, the nesting rule, "mark all"
with its high-water mark, ``?archived=true``, the counts and the ``seq`` announced on the
user's live channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.timing import eventually
from tests.support.ws import token

pytestmark = pytest.mark.integration


def bearer(user: str = "bob") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user)}"}


@pytest.fixture
async def api(services: Callable[..., Service], channel: AbstractChannel, redis: Redis,
              names: Names) -> httpx.AsyncClient:
    producer = await services("producer").start()
    await services("consumer").start()
    await services("persister").start()
    for i in range(3):
        await publish_raw(channel, names, event_body(f"e{i}", recipients=["bob"],
                                                     postId=f"p{i}"))
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 3)
    return httpx.AsyncClient(base_url=producer.url)


async def counts(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/v1/users/bob/notifications/counts", headers=bearer())
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def listed(api: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    answer = await api.get(f"/v1/users/bob/notifications{query}", headers=bearer())
    assert answer.status_code == 200
    notes: list[dict[str, Any]] = answer.json()["notifications"]
    return notes


async def test_marks_nest_announce_and_count(api: httpx.AsyncClient, redis: Redis,
                                            names: Names) -> None:
    ids = sorted(await buffered(redis, names, "bob"))
    live = redis.pubsub()
    await live.subscribe(names.keys.live_channel("default", "bob"))
    async with api:
        assert (await counts(api)) | {"seq": 0} == {
            "userId": "bob", "tenantId": "default", "unseen": 3, "unread": 3, "seq": 0}
        seen = await api.post("/v1/users/bob/notifications/marks", headers=bearer(),
                              json={"mark": "seen", "notificationIds": [ids[0], "nope"]})
        assert seen.status_code == 200, seen.text
        body = seen.json()
        assert (body["marked"], body["unknown"]) == ([ids[0]], ["nope"])
        assert (body["state"]["unseen"], body["state"]["unread"]) == (2, 3)
        # a pending notification marked is acknowledged, and stored at once
        assert ids[0] not in await buffered(redis, names, "bob")
        note = next(n for n in await listed(api) if n["id"] == ids[0])
        assert note["seenAt"]
        assert note["readAt"] is None
        assert note["status"] == "acked"

        read = (await api.post("/v1/users/bob/notifications/marks", headers=bearer(),
                               json={"mark": "read", "notificationIds": [ids[0]]})).json()
        assert (read["state"]["unseen"], read["state"]["unread"]) == (2, 2)
        archived = (await api.post("/v1/users/bob/notifications/marks", headers=bearer(),
                                   json={"mark": "archived",
                                         "notificationIds": [ids[1]]})).json()
        assert (archived["state"]["unseen"], archived["state"]["unread"]) == (1, 1)
        assert ids[1] not in {n["id"] for n in await listed(api)}
        [kept] = await listed(api, "?archived=true")
        assert kept["id"] == ids[1]
        assert kept["readAt"]
        assert kept["seenAt"]
        unarchived = (await api.post("/v1/users/bob/notifications/marks", headers=bearer(),
                                     json={"mark": "unarchived",
                                           "notificationIds": [ids[1]]})).json()
        assert (unarchived["state"]["unseen"], unarchived["state"]["unread"]) == (1, 1)
        assert await listed(api, "?archived=true") == []
        seqs = [s["state"]["seq"] for s in (body, read, archived, unarchived)]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 4
        assert (await counts(api))["seq"] == seqs[-1]

        frames = []
        for _ in range(50):
            message = await live.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                frames.append(orjson.loads(message["data"])["inbox"])
            if len(frames) == 4:
                break
        assert [f["seq"] for f in frames] == seqs
        assert frames[-1]["mark"] == "unarchived"
    await live.aclose()


async def test_mark_all_leaves_what_arrives_after_it(
    api: httpx.AsyncClient, redis: Redis, names: Names, channel: AbstractChannel,
) -> None:
    async with api:
        done = (await api.post("/v1/users/bob/notifications/marks/all", headers=bearer(),
                               json={"mark": "read"})).json()
        assert done["changed"] == 3
        assert (done["state"]["unseen"], done["state"]["unread"]) == (0, 0)
        assert done["state"]["all"] is True
        await publish_raw(channel, names, event_body("late", recipients=["bob"],
                                                     postId="late"))
        await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 1)
        assert {k: v for k, v in (await counts(api)).items() if k in ("unseen", "unread")} \
            == {"unseen": 1, "unread": 1}
        again = (await api.post("/v1/users/bob/notifications/marks/all", headers=bearer(),
                                json={"mark": "archived"})).json()
        assert again["changed"] == 4
        assert await listed(api) == []
        assert len(await listed(api, "?archived=true")) == 4


@pytest.mark.parametrize(("body", "field"), [
    ({"mark": "loved", "notificationIds": ["a"]}, "mark"),
    ({"mark": "read", "notificationIds": []}, "notificationIds"),
    ({"mark": "read", "notificationIds": ["bad id"]}, "notificationIds.0"),
    ({"mark": "read", "notificationIds": ["a"], "extra": 1}, "extra"),
])
async def test_a_bad_mark_is_422_naming_the_field(api: httpx.AsyncClient,
                                                  body: dict[str, Any], field: str) -> None:
    async with api:
        answer = await api.post("/v1/users/bob/notifications/marks", headers=bearer(),
                                json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["details"][0]["field"] == field
        other = await api.post("/v1/users/bob/notifications/marks/all",
                               headers=bearer("carol"), json={"mark": "read"})
        assert other.status_code == 403
        bad = await api.get("/v1/users/bob/notifications?archived=yes", headers=bearer())
        assert bad.status_code == 422
