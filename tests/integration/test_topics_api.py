"""Topics on a real producer (issue 20): subscriptions by one and by 10,000, pages with a
cursor, a user's topics, who may call, bad input a clear 422 naming the field, known users
written by the producer, an event with a topic accepted and a broadcast needing its scope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from common.store.factory import open_store
from producer.topics.routes import encode_cursor
from tests.support.keys import admin_headers, headers, make_key
from tests.support.processes import Service
from tests.support.timing import scaled

pytestmark = pytest.mark.integration

TOPIC = "/v1/topics/followers:alice/subscribers"


@pytest.fixture
async def client(services: Callable[..., Service]) -> AsyncIterator[httpx.AsyncClient]:
    producer = await services("producer", MAX_BODY_BYTES="2097152").start()
    async with httpx.AsyncClient(base_url=producer.url, timeout=scaled(30)) as client:
        yield client


@pytest.fixture
async def admin(base_env: dict[str, str]) -> dict[str, str]:
    return headers(await make_key(base_env["STORE_URL"], "acme", ("admin",)))


async def known_users(store_url: str, tenant: str = "acme") -> list[str]:
    store = await open_store(store_url)
    try:
        return await store.known_users(tenant, after=None, limit=10_000)
    finally:
        await store.close()


async def test_subscribe_one_list_and_unsubscribe(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    made = await client.put(f"{TOPIC}/bob", headers=admin)
    assert made.status_code == 201, made.text
    assert made.json() == {"tenantId": "acme", "topic": "followers:alice", "userId": "bob",
                           "subscribed": True, "changed": True}
    again = await client.put(f"{TOPIC}/bob", headers=admin)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    await client.put("/v1/topics/team@acme.eng/subscribers/bob", headers=admin)
    listed = await client.get(TOPIC, headers=admin)
    assert listed.json() == {"tenantId": "acme", "topic": "followers:alice",
                             "subscribers": ["bob"], "nextCursor": None}
    topics = await client.get("/v1/users/bob/topics", headers=admin)
    assert topics.json() == {"tenantId": "acme", "userId": "bob",
                             "topics": ["followers:alice", "team@acme.eng"]}
    gone = await client.delete(f"{TOPIC}/bob", headers=admin)
    assert gone.status_code == 204
    assert (await client.delete(f"{TOPIC}/bob", headers=admin)).status_code == 204
    assert (await client.get(TOPIC, headers=admin)).json()["subscribers"] == []
    assert (await client.get("/v1/users/bob/topics", headers=admin)).json()["topics"] == [
        "team@acme.eng"]


async def test_bulk_10000_then_a_cursor_through_2500(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    users = [f"user-{i:05d}" for i in range(10_000)]
    added = await client.post(TOPIC, headers=admin, json={"add": users})
    assert added.status_code == 200, added.text
    assert added.json() == {"tenantId": "acme", "topic": "followers:alice", "added": 10_000,
                            "removed": 0}
    # Users never seen before are fine (Herald has no registry) and are now known users.
    assert len(await known_users(base_env["STORE_URL"])) == 10_000
    removed = await client.post(TOPIC, headers=admin,
                                json={"remove": users[2500:], "add": ["user-00000"]})
    assert removed.json()["removed"] == 7500
    assert removed.json()["added"] == 0
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):  # bounded: 2,500 / 333 is 8 pages
        params: dict[str, str | int] = {"limit": 333}
        if cursor is not None:
            params["cursor"] = cursor
        page = await client.get(TOPIC, headers=admin, params=params)
        assert page.status_code == 200, page.text
        seen += page.json()["subscribers"]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert seen == users[:2500]
    # A page that ends exactly at the last subscriber has no next cursor.
    last = await client.get(TOPIC, headers=admin,
                            params={"limit": 500, "cursor": encode_cursor(users[1999])})
    assert last.json()["subscribers"] == users[2000:2500]
    assert last.json()["nextCursor"] is None


async def test_a_bulk_over_10000_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    over = await client.post(TOPIC, headers=admin,
                             json={"add": [f"u{i}" for i in range(6000)],
                                   "remove": [f"v{i}" for i in range(4001)]})
    assert over.status_code == 422, over.text
    assert "10000" in over.text
    assert (await client.get(TOPIC, headers=admin)).json()["subscribers"] == []


@pytest.mark.parametrize(("method", "path", "field"), [
    ("PUT", "/v1/topics/a%20b/subscribers/bob", "topic"),
    ("PUT", "/v1/topics/:x/subscribers/bob", "topic"),
    ("PUT", "/v1/topics/-x/subscribers/bob", "topic"),
    ("PUT", f"/v1/topics/{'x' * 129}/subscribers/bob", "topic"),
    ("PUT", "/v1/topics/%C3%A9/subscribers/bob", "topic"),
    ("PUT", "/v1/topics/*/subscribers/bob", "topic"),
    ("DELETE", "/v1/topics/*/subscribers/bob", "topic"),
    ("GET", "/v1/topics/a%0A/subscribers", "topic"),
    ("PUT", "/v1/topics/ok/subscribers/b%20ob", "userId"),
    ("PUT", f"/v1/topics/ok/subscribers/{'u' * 129}", "userId"),
    ("GET", "/v1/users/b%24ob/topics", "userId"),
    ("GET", "/v1/topics/ok/subscribers?limit=0", "limit"),
    ("GET", "/v1/topics/ok/subscribers?limit=1001", "limit"),
    ("GET", "/v1/topics/ok/subscribers?limit=x", "limit"),
    ("GET", "/v1/topics/ok/subscribers?cursor=%21%21", "cursor"),
    ("GET", "/v1/topics/ok/subscribers?cursor=" + "A" * 300, "cursor"),
    ("GET", "/v1/topics/ok/subscribers?tenantId=a%20b", "tenantId"),
])
async def test_bad_names_are_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str, field: str,
) -> None:
    answer = await client.request(method, path, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"][0]["field"] == field


@pytest.mark.parametrize(("body", "field"), [
    ({"add": ["ok", "b ob"]}, "add.1"),
    ({"remove": [5]}, "remove.0"),
    ({"add": "bob"}, "add"),
    ({"add": ["bob"], "remove": ["bob"]}, "body"),
    ({}, "body"),
    ({"add": ["bob"], "extra": 1}, "extra"),
    ([], "body"),
])
async def test_a_bad_bulk_body_is_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], body: object, field: str,
) -> None:
    answer = await client.post(TOPIC, headers=admin, json=body)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["details"]]


async def test_who_may_manage_topics(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    assert (await client.put(f"{TOPIC}/bob")).status_code == 401
    writer = headers(await make_key(base_env["STORE_URL"], "acme", ("events:write",)))
    assert (await client.put(f"{TOPIC}/bob", headers=writer)).status_code == 403
    other = await client.get(TOPIC, params={"tenantId": "globex"}, headers=admin)
    assert other.status_code == 403
    operator = await client.get(TOPIC, headers=admin_headers())
    assert (operator.status_code, operator.json()["details"][0]["field"]) == (422, "tenantId")
    nobody = await client.get(TOPIC, params={"tenantId": "nobody"}, headers=admin_headers())
    assert nobody.status_code == 404
    made = await client.put(f"{TOPIC}/carol", params={"tenantId": "acme"},
                            headers=admin_headers())
    assert made.status_code == 201
    # Tenants are apart.
    globex = headers(await make_key(base_env["STORE_URL"], "globex", ("admin",)))
    assert (await client.get(TOPIC, headers=globex)).json()["subscribers"] == []
    assert (await client.get(TOPIC, headers=admin)).json()["subscribers"] == ["carol"]


async def test_the_producer_writes_known_users(
    client: httpx.AsyncClient, admin: dict[str, str], base_env: dict[str, str],
) -> None:
    await client.put("/v1/users/p-user/profile", headers=admin,
                     json={"locale": "de", "timeZone": None})
    await client.put("/v1/users/q-user/preferences", headers=admin,
                     json={"types": {}, "quietHours": None})
    await client.put(f"{TOPIC}/s-user", headers=admin)
    minter = headers(await make_key(base_env["STORE_URL"], "acme", ("tokens:write",)))
    minted = await client.post("/v1/tokens", headers=minter, json={"userId": "t-user"})
    assert minted.status_code == 200, minted.text
    assert await known_users(base_env["STORE_URL"]) == ["p-user", "q-user", "s-user",
                                                        "t-user"]
    # Erasure takes the user out of every topic and out of the known users.
    await client.put("/v1/topics/news/subscribers/s-user", headers=admin)
    erased = await client.delete("/v1/users/s-user", headers=admin)
    assert erased.status_code == 200, erased.text
    assert (await client.get("/v1/users/s-user/topics", headers=admin)).json()["topics"] == []
    assert (await client.get(TOPIC, headers=admin)).json()["subscribers"] == []
    assert await known_users(base_env["STORE_URL"]) == ["p-user", "q-user", "t-user"]


async def test_an_event_with_a_topic_is_accepted_and_a_broadcast_needs_its_scope(
    client: httpx.AsyncClient, base_env: dict[str, str],
) -> None:
    writer = headers(await make_key(base_env["STORE_URL"], "acme", ("events:write",)))
    event = {"type": "SYSTEM", "actorId": "ops", "text": "hello"}
    topic = await client.post("/v1/events", headers=writer,
                              json={**event, "topic": "followers:alice"})
    assert topic.status_code == 202, topic.text
    refused = await client.post("/v1/events", headers=writer, json={**event, "topic": "*"})
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert "events:broadcast" in refused.json()["message"]
    batch = await client.post("/v1/events/batch", headers=writer,
                              json={"events": [{**event, "targetId": "bob"},
                                               {**event, "topic": "*"}]})
    assert batch.status_code == 403
    broadcaster = headers(await make_key(base_env["STORE_URL"], "acme",
                                         ("events:write", "events:broadcast")))
    sent = await client.post("/v1/events", headers=broadcaster, json={**event, "topic": "*"})
    assert sent.status_code == 202, sent.text
    for body, field in (({**event, "topic": "a b"}, "topic"),
                        ({**event, "topic": "t", "targetId": "bob"}, "body")):
        bad = await client.post("/v1/events", headers=writer, json=body)
        assert bad.status_code == 422, bad.text
        assert field in [d["field"] for d in bad.json()["details"]]


async def test_concurrent_subscribes_of_one_user_make_one_subscription(
    client: httpx.AsyncClient, admin: dict[str, str],
) -> None:
    answers = await asyncio.gather(*(client.put(f"{TOPIC}/bob", headers=admin)
                                     for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
