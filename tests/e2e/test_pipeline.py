"""The whole pipeline as a user meets it: four real processes, HTTP in, WebSocket out,
history from the read API. Each test checks one guarantee of the design end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.keys import headers as key_headers
from tests.support.keys import make_key
from tests.support.processes import Service
from tests.support.timing import eventually
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.e2e


@dataclass
class Herald:
    producer: Service
    gateway: Service
    consumer: Service
    persister: Service

    keys: dict[str, str]
    """Each tenant's publishing key (``default`` and ``acme``)."""

    async def post(self, body: dict[str, Any]) -> str:
        key = self.keys[body.get("tenantId", "default")]
        async with httpx.AsyncClient(base_url=self.producer.url) as client:
            answer = await client.post("/v1/events", json=body, headers=key_headers(key))
        assert answer.status_code == 202, answer.text
        event_id: str = answer.json()["eventId"]
        return event_id

    async def history(self, user: str, tenant: str | None = None,
                      as_user: str | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token(as_user or user, tenant)}"}
        if tenant:
            params["tenantId"] = tenant
        async with httpx.AsyncClient(base_url=self.producer.url) as client:
            return await client.get(f"/v1/users/{user}/notifications", params=params,
                                    headers=headers)

    async def statuses(self, user: str, tenant: str | None = None) -> dict[str, str]:
        answer = await self.history(user, tenant)
        assert answer.status_code == 200, answer.text
        return {n["eventId"]: n["status"] for n in answer.json()["notifications"]}


@pytest.fixture
async def herald(services: Callable[..., Service], tmp_path: Path,
                 request: pytest.FixtureRequest) -> Herald:
    # Notifications outlive any test unless it asks for a short TTL (indirect parametrize):
    # on a busy machine posting 40 events one by one can take longer than a short one.
    ttl = getattr(request, "param", 3600)
    common = {"JWT_SECRET": SECRET, "STORE_URL": f"sqlite:///{tmp_path}/herald.db",
              "NOTIFICATION_TTL_SECONDS": str(ttl), "SWEEP_INTERVAL_SECONDS": "0.2",
              "SEMANTIC_WINDOW_SECONDS": "0", "CLAIM_IDLE_SECONDS": "1"}
    consumer, persister, gateway, producer = await asyncio.gather(
        services("consumer", **common).start(),
        services("persister", **common).start(),
        services("ws_gateway", **common).start(),
        services("producer", **common).start(),
    )
    keys = {"default": producer.headers["X-API-Key"],
            "acme": await make_key(common["STORE_URL"], "acme")}
    return Herald(producer, gateway, consumer, persister, keys)


def like(actor: str, target: str, **over: Any) -> dict[str, Any]:
    """A LIKE of a post of its own (likes of one post join one digest)."""
    return {"type": "LIKE", "actorId": actor, "targetId": target,
            "postId": f"p-{uuid.uuid4().hex[:12]}", **over}


async def test_live_delivery_ack_then_history_says_acked(herald: Herald) -> None:
    bob, _ = await Client.authed(herald.gateway.url, "bob")
    event_id = await herald.post(like("alice", "bob"))
    [note] = await bob.notifications(1)
    assert note["eventId"] == event_id
    assert note["message"] == "alice liked your post"
    assert (await herald.statuses("bob"))[event_id] == "pending"
    await bob.ack(note["id"])
    await eventually(lambda: herald.statuses("bob"), lambda s: s.get(event_id) == "acked")
    await bob.close()


async def test_offline_user_gets_the_replay_on_two_devices(herald: Herald) -> None:
    sent = [await herald.post(like("alice", "bob", postId=f"p{n}")) for n in range(3)]
    await eventually(lambda: herald.statuses("bob"), lambda s: len(s) == 3)
    (phone, ok1), (laptop, ok2) = await asyncio.gather(
        Client.authed(herald.gateway.url, "bob"), Client.authed(herald.gateway.url, "bob"))
    assert ok1["pending"] == ok2["pending"] == 3
    for device in (phone, laptop):
        assert [n["eventId"] for n in await device.notifications(3)] == sent
        await device.close()


async def test_a_repeated_event_id_makes_one_notification(herald: Herald) -> None:
    for _ in range(3):
        await herald.post(like("alice", "bob", eventId="once"))
    bob, _ = await Client.authed(herald.gateway.url, "bob")
    [note] = await bob.notifications(1)
    assert note["eventId"] == "once"
    marker = await herald.post(like("marker", "bob", postId="m"))  # after the three copies
    assert await bob.before(marker) == []
    await bob.ack(note["id"])
    history = await eventually(lambda: herald.statuses("bob"), lambda s: s.get("once") == "acked")
    assert history == {"once": "acked", marker: "pending"}
    await bob.close()


async def test_users_and_tenants_see_only_their_own(herald: Herald) -> None:
    carol, _ = await Client.authed(herald.gateway.url, "carol")
    acme_bob, _ = await Client.authed(herald.gateway.url, "bob", tenant="acme")
    bob, _ = await Client.authed(herald.gateway.url, "bob")
    for_bob = await herald.post(like("alice", "bob"))
    for_acme_bob = await herald.post(like("alice", "bob", tenantId="acme"))
    assert [n["eventId"] for n in await bob.notifications(1)] == [for_bob]
    assert [n["eventId"] for n in await acme_bob.notifications(1)] == [for_acme_bob]
    for_carol = await herald.post(like("alice", "carol"))  # bob's would have come first
    assert await carol.before(for_carol) == []

    assert (await herald.history("bob", as_user="carol")).status_code == 403
    assert (await herald.history("bob", tenant="acme", as_user="bob")).status_code == 200
    assert set(await herald.statuses("bob")) == {for_bob}
    assert set(await herald.statuses("bob", tenant="acme")) == {for_acme_bob}
    async with httpx.AsyncClient(base_url=herald.producer.url) as client:
        assert (await client.get("/v1/users/bob/notifications")).status_code == 401
    for client_ in (bob, carol, acme_bob):
        await client_.close()


@pytest.mark.parametrize("herald", [2], indirect=True)
async def test_an_expired_notification_is_stored_expired_and_never_delivered(
    herald: Herald,
) -> None:
    event_id = await herald.post(like("alice", "dave"))
    await eventually(lambda: herald.statuses("dave"), lambda s: s.get(event_id) == "expired",
                     timeout=15)
    dave, ok = await Client.authed(herald.gateway.url, "dave")
    assert ok["pending"] == 0
    marker = await herald.post(like("marker", "dave", postId="m"))  # after any replay
    assert await dave.before(marker) == []
    await dave.close()


async def test_history_pages_newest_first_and_unread_count(herald: Herald) -> None:
    sent = [await herald.post(like("alice", "erin", postId=f"p{n}")) for n in range(5)]
    await eventually(lambda: herald.statuses("erin"), lambda s: len(s) == 5)
    first = (await herald.history("erin", limit="2")).json()
    assert [n["eventId"] for n in first["notifications"]] == sent[:-3:-1]
    assert first["hasMore"] is True
    rest = (await herald.history("erin", limit="10", cursor=first["nextCursor"])).json()
    assert [n["eventId"] for n in rest["notifications"]] == sent[2::-1]
    assert rest["hasMore"] is False
    assert rest["nextCursor"] is None
    headers = {"Authorization": f"Bearer {token('erin')}"}
    async with httpx.AsyncClient(base_url=herald.producer.url, headers=headers) as client:
        unread = await client.get("/v1/users/erin/notifications/unread-count")
        assert unread.json()["unread"] == 5
        target = first["notifications"][0]["id"]
        assert (await client.post(f"/v1/notifications/{target}/read")).status_code == 200
        assert (await client.get("/v1/users/erin/notifications/unread-count")).json()[
            "unread"] == 4
        other = {"Authorization": f"Bearer {token('mallory')}"}
        assert (await client.post(f"/v1/notifications/{first['notifications'][1]['id']}/read",
                                  headers=other)).status_code == 404


async def test_persister_killed_mid_stream_loses_no_acked_notification(herald: Herald) -> None:
    bob, _ = await Client.authed(herald.gateway.url, "bob")
    sent = [await herald.post(like(f"fan{n}", "bob")) for n in range(40)]
    notes = await bob.notifications(40)
    for index, note in enumerate(notes):
        await bob.ack(note["id"])
        if index == 15:
            herald.persister.kill()
    await bob.close()
    herald.persister.spawn()
    await herald.persister.wait_up()

    async def all_statuses() -> dict[str, str]:
        page = (await herald.history("bob", limit="100")).json()["notifications"]
        return {n["eventId"]: n["status"] for n in page}

    final = await eventually(all_statuses, lambda s: len(s) == 40 and
                             set(s.values()) == {"acked"}, timeout=20)
    assert sorted(final) == sorted(sent)


async def test_bad_input_gets_a_clear_error_and_reaches_nobody(herald: Herald) -> None:
    bob, _ = await Client.authed(herald.gateway.url, "bob")
    async with httpx.AsyncClient(base_url=herald.producer.url,
                                 headers=herald.producer.headers) as client:
        wrong_type = await client.post("/v1/events", json={**like("alice", "bob"),
                                                           "targetId": 42})
        not_json = await client.post("/v1/events", content=b"{oops")
    assert wrong_type.status_code == 422
    assert wrong_type.json()["details"][0]["field"] == "targetId"
    assert not_json.status_code == 400
    await bob.ws.send("{oops")
    assert (await bob.recv())["code"] == "BAD_FRAME"
    good = await herald.post(like("alice", "bob"))
    assert await bob.before(good) == []  # nothing was delivered for the bad events
    await bob.close()


@pytest.fixture
async def sharded(services: Callable[..., Service], tmp_path: Path) -> Herald:
    """The four services on a buffer split into four shards; an actor may make one event
    (so the consumer's cross-shard admission path runs)."""
    common = {"JWT_SECRET": SECRET, "STORE_URL": f"sqlite:///{tmp_path}/herald.db",
              "NOTIFICATION_TTL_SECONDS": "3600", "SEMANTIC_WINDOW_SECONDS": "0",
              "HERALD_BUFFER_SHARDS": "4", "RATE_LIMIT_COUNT": "1",
              "RATE_LIMIT_WINDOW_SECONDS": "3600"}
    consumer, persister, gateway, producer = await asyncio.gather(
        services("consumer", **common).start(),
        services("persister", **common).start(),
        services("ws_gateway", **common).start(),
        services("producer", **common).start(),
    )
    return Herald(producer, gateway, consumer, persister,
                  {"default": producer.headers["X-API-Key"]})


async def test_on_four_shards_every_user_is_served_and_every_ack_persisted(
    sharded: Herald,
) -> None:
    users = [f"user{n}" for n in range(8)]  # crc32 spreads them over all four shards
    live = {u: (await Client.authed(sharded.gateway.url, u))[0] for u in users[:4]}
    sent = {u: await sharded.post(like(f"fan-of-{u}", u)) for u in users}
    # One actor, three events: only the first is admitted, whichever shard its target is in.
    spam = [await sharded.post(like("spammer", u, postId=f"s{n}"))
            for n, u in enumerate(users[:3])]
    markers: dict[str, str] = {}
    for user, client in live.items():
        notes = await client.notifications(2 if user in users[:1] else 1)
        assert {n["eventId"] for n in notes} == {sent[user]} | (
            {spam[0]} if user == users[0] else set())
        await client.ack(*(n["id"] for n in notes))
        # The spammer's other two would come before a later event to the same user.
        markers[user] = await sharded.post(like(f"marker-{user}", user, postId="m"))
        assert await client.before(markers[user]) == []
        await client.close()
    for user in users[4:]:  # offline: replayed at AUTH, then acked
        client, ok = await Client.authed(sharded.gateway.url, user)
        assert ok["pending"] == 1
        [note] = await client.notifications(1)
        await client.ack(note["id"])
        await client.close()
    for user in users:
        want = {sent[user]: "acked"} | ({spam[0]: "acked"} if user == users[0] else {}) | (
            {markers[user]: "pending"} if user in markers else {})

        async def statuses(u: str = user) -> dict[str, str]:
            return await sharded.statuses(u)

        def complete(s: dict[str, str], w: dict[str, str] = want) -> bool:
            return s == w

        await eventually(statuses, complete)
