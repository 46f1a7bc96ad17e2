"""The producer's read API against the real Redis and a real SQLite store: who may read,
what bad queries get, and mark-read of a notification still pending."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.replies import entries
from tests.support.timing import eventually
from tests.support.ws import token

pytestmark = pytest.mark.integration

API_KEY = "backend-key-0123456789"


@pytest.fixture
async def api(services: Callable[..., Service], channel: AbstractChannel, redis: Redis,
              names: Names) -> httpx.AsyncClient:
    producer = await services("producer", READ_API_KEYS=API_KEY).start()
    await services("consumer").start()
    await publish_raw(channel, names, event_body("e1", recipients=["bob"]))
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 1)
    return httpx.AsyncClient(base_url=producer.url)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def test_an_api_key_reads_any_user_and_a_token_only_its_own(
    api: httpx.AsyncClient,
) -> None:
    async with api:
        by_key = await api.get("/v1/users/bob/notifications", headers=bearer(API_KEY))
        assert [n["status"] for n in by_key.json()["notifications"]] == ["pending"]
        assert (await api.get("/v1/users/bob/notifications",
                              headers=bearer(token("bob")))).status_code == 200
        assert (await api.get("/v1/users/bob/notifications",
                              headers=bearer(token("carol")))).status_code == 403
        forged = token("bob", secret="x" * 40)
        answer = await api.get("/v1/users/bob/notifications", headers=bearer(forged))
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"
        assert (await api.get("/v1/users/bob/notifications")).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
     ("cursor=not-a-cursor", "cursor"), ("limit=%C2%B2", "limit"),
     ("tenantId=a%3Ab", "tenantId")],
)
async def test_bad_queries_are_422_naming_the_field(
    api: httpx.AsyncClient, query: str, field: str
) -> None:
    async with api:
        answer = await api.get(f"/v1/users/bob/notifications?{query}", headers=bearer(API_KEY))
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == field


async def test_an_id_with_a_trailing_newline_is_422_and_a_wrong_method_405_with_allow(
    api: httpx.AsyncClient,
) -> None:
    async with api:
        answer = await api.get("/v1/users/bob%0A/notifications", headers=bearer(API_KEY))
        assert answer.status_code == 422
        assert answer.json()["details"][0]["field"] == "userId"
        wrong = await api.get("/v1/notifications/n1/read", headers=bearer(API_KEY))
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "POST"
        assert wrong.json()["error"] == "method_not_allowed"


async def test_marking_a_pending_notification_read_acks_it(
    api: httpx.AsyncClient, redis: Redis, names: Names, services: Callable[..., Service]
) -> None:
    """Mark-read goes the way of an ACK: an ``acked`` entry with ``r`` (and ``v``: read
    implies seen) on the persist stream; the producer stores its row at once too (the
    persister's later upsert keeps the states), so it shows read in the history at once."""
    [nid] = await buffered(redis, names, "bob")
    async with api:
        headers = bearer(token("bob"))
        assert (await api.get("/v1/users/bob/notifications/unread-count",
                              headers=headers)).json()["unread"] == 1
        answer = await api.post(f"/v1/notifications/{nid}/read", headers=headers)
        assert answer.status_code == 200
        assert await buffered(redis, names, "bob") == {}
        [(_, fields)] = entries(await redis.xrange(names.keys.persist_stream))
        assert fields["s"] == "acked"
        assert int(fields["r"]) > 0
        assert fields["v"] == fields["r"]
        assert (await api.get("/v1/users/bob/notifications/unread-count",
                              headers=headers)).json()["unread"] == 0

        await services("persister").start()

        async def listed() -> list[dict[str, object]]:
            page = await api.get("/v1/users/bob/notifications", headers=headers)
            notes: list[dict[str, object]] = page.json()["notifications"]
            return notes

        [note] = await eventually(listed, lambda notes: len(notes) == 1)
        assert note["id"] == nid
        assert note["status"] == "acked"
        assert note["readAt"]
        again = await api.post(f"/v1/notifications/{nid}/read", headers=headers)
        assert again.status_code == 200  # stored and read already: nothing more to write
        assert await redis.xlen(names.keys.persist_stream) <= 1
        other = await api.post(f"/v1/notifications/{nid}/read", headers=bearer(token("carol")))
        assert other.status_code == 404


async def test_mark_all_read_acks_pending_and_reads_stored(
    api: httpx.AsyncClient, redis: Redis, names: Names, channel: AbstractChannel,
    services: Callable[..., Service],
) -> None:
    """Pending ones go to the store through the persist stream (acked, with readAt), so a
    persister runs; stored ones get readAt at once."""
    await services("persister").start()
    [first] = await buffered(redis, names, "bob")
    async with api:
        headers = bearer(token("bob"))
        assert (await api.post(f"/v1/notifications/{first}/read",
                               headers=headers)).status_code == 200
        # one stored and read (above); now two more pending, and one for carol
        await publish_raw(channel, names, event_body("e2", recipients=["bob", "carol"],
                                                     postId="p2"))
        await publish_raw(channel, names, event_body("e3", recipients=["bob"], postId="p3"))
        await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 2)

        async def unread() -> int:
            answer = await api.get("/v1/users/bob/notifications/unread-count", headers=headers)
            count: int = answer.json()["unread"]
            return count

        async def history() -> list[dict[str, object]]:
            answer = await api.get("/v1/users/bob/notifications", headers=headers)
            notes: list[dict[str, object]] = answer.json()["notifications"]
            return notes

        await eventually(unread, lambda n: n == 2)  # once the first is stored, read

        assert (await api.post("/v1/users/bob/notifications/read-all")).status_code == 401
        other = await api.post("/v1/users/bob/notifications/read-all",
                               headers=bearer(token("carol")))
        assert other.status_code == 403
        bad = await api.post("/v1/users/bob%0A/notifications/read-all", headers=headers)
        assert bad.status_code == 422
        assert bad.json()["details"][0]["field"] == "userId"
        assert len(await buffered(redis, names, "bob")) == 2  # refused calls changed nothing

        answer = await api.post("/v1/users/bob/notifications/read-all", headers=headers)
        assert answer.status_code == 200
        assert answer.json() == {"userId": "bob", "tenantId": "default", "marked": 2}
        assert await buffered(redis, names, "bob") == {}
        await eventually(history, lambda notes: len(notes) == 3 and all(
            n["status"] == "acked" and n["readAt"] for n in notes))
        assert await unread() == 0
        again = await api.post("/v1/users/bob/notifications/read-all",
                               headers=bearer(API_KEY))
        assert again.json()["marked"] == 0
        assert len(await buffered(redis, names, "carol")) == 1  # carol's untouched


async def test_trusted_mode_is_open(services: Callable[..., Service]) -> None:
    producer = await services("producer", AUTH_MODE="trusted", JWT_SECRET="").start()
    async with httpx.AsyncClient(base_url=producer.url) as client:
        answer = await client.get("/v1/users/bob/notifications")
        assert answer.status_code == 200
        assert answer.json()["notifications"] == []
        demo = await client.get("/demo")
        assert demo.status_code == 200
        assert "<herald-inbox" in demo.text
