"""The inbox states over the WebSocket (issue 20) against real services: two connections of
one user (two tabs) — one marks, both get ``INBOX_STATE`` with the same ``seq`` and counts
(the other one through its gateway's subscription to the user's live channel); a mark made
over the read API reaches them too; bad marks are ``BAD_MARK``; a gateway whose store cannot
be opened answers a mark ``TRY_AGAIN`` and still delivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.timing import eventually
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.integration


async def next_of(client: Client, kind: str) -> dict[str, Any]:
    """The next frame of this type (other frames are skipped)."""
    for _ in range(100):
        frame = await client.recv()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} among 100 frames")


async def test_two_tabs_agree(services: Callable[..., Service], channel: AbstractChannel,
                              redis: Redis, names: Names) -> None:
    producer = await services("producer").start()
    await services("consumer").start()
    await services("persister").start()
    # two gateway processes: the second tab learns through its own gateway's subscription
    one = await services("ws_gateway", JWT_SECRET=SECRET).start()
    two = await services("ws_gateway", JWT_SECRET=SECRET).start()
    for i in range(3):
        await publish_raw(channel, names, event_body(f"e{i}", recipients=["bob"],
                                                     postId=f"p{i}"))
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 3)
    ids = sorted(await buffered(redis, names, "bob"))
    left, _ = await Client.authed(one.url, "bob")
    right, _ = await Client.authed(two.url, "bob")
    await left.notifications(3)
    await right.notifications(3)

    await left.send({"type": "MARK", "mark": "read", "notificationIds": [ids[0], "nope"]})
    ok = await next_of(left, "MARK_OK")
    assert ok == {"type": "MARK_OK", "mark": "read", "all": False, "notificationIds": [ids[0]],
                  "unknown": ["nope"], "changed": 1, "seq": ok["seq"]}
    mine, theirs = await next_of(left, "INBOX_STATE"), await next_of(right, "INBOX_STATE")
    assert mine == theirs == {"type": "INBOX_STATE", "seq": ok["seq"], "mark": "read",
                              "notificationIds": [ids[0]], "all": False, "at": mine["at"],
                              "unseen": 2, "unread": 2}
    assert ids[0] not in await buffered(redis, names, "bob")  # a mark acknowledges

    await right.send({"type": "MARK_ALL", "mark": "seen"})
    ok = await next_of(right, "MARK_OK")
    assert (ok["all"], ok["notificationIds"], ok["changed"]) == (True, None, 2)
    mine, theirs = await next_of(left, "INBOX_STATE"), await next_of(right, "INBOX_STATE")
    assert mine == theirs
    assert (mine["seq"], mine["mark"], mine["all"], mine["unseen"], mine["unread"]) == (
        ok["seq"], "seen", True, 0, 2)
    assert mine["seq"] > 1

    async with httpx.AsyncClient(base_url=producer.url) as api:
        headers = {"Authorization": f"Bearer {token('bob')}"}
        answer = await api.post("/v1/users/bob/notifications/marks", headers=headers,
                                json={"mark": "archived", "notificationIds": [ids[1]]})
        assert answer.status_code == 200, answer.text
        state = answer.json()["state"]
        mine, theirs = await next_of(left, "INBOX_STATE"), await next_of(right, "INBOX_STATE")
        assert mine == theirs
        assert (mine["seq"], mine["unseen"], mine["unread"]) == (state["seq"], 0, 1)
        counts = (await api.get("/v1/users/bob/notifications/counts", headers=headers)).json()
        assert (counts["unseen"], counts["unread"], counts["seq"]) == (0, 1, state["seq"])

    for bad in ({"type": "MARK", "mark": "loved", "notificationIds": [ids[2]]},
                {"type": "MARK", "mark": "read", "notificationIds": []},
                {"type": "MARK_ALL"}):
        await left.send(bad)
        assert (await next_of(left, "ERROR"))["code"] == "BAD_MARK"
    await left.ws.close()
    await right.ws.close()


async def test_a_gateway_without_its_store_answers_try_again_and_still_delivers(
    services: Callable[..., Service], channel: AbstractChannel, tmp_path: Any
) -> None:
    await services("consumer").start()
    # a store that cannot be opened: a SQLite file under a directory that is a file
    (tmp_path / "blocked").write_text("not a directory")
    gateway = await services("ws_gateway", JWT_SECRET=SECRET,
                             STORE_URL=f"sqlite:///{tmp_path}/blocked/herald.db").start()
    bob, _ = await Client.authed(gateway.url, "bob")
    await bob.send({"type": "MARK_ALL", "mark": "read"})
    error = await next_of(bob, "ERROR")
    assert (error["code"], error["mark"]) == ("TRY_AGAIN", "read")
    await bob.send({"type": "MARK", "mark": "seen", "notificationIds": ["a"]})
    error = await next_of(bob, "ERROR")
    assert (error["code"], error["mark"], error["notificationIds"]) == ("TRY_AGAIN", "seen",
                                                                         ["a"])
    await publish_raw(channel, Names(gateway.env["HERALD_PREFIX"]),
                      event_body("e1", recipients=["bob"], postId="p1"))
    [note] = await bob.notifications(1)
    assert note["eventId"] == "e1"
    await bob.ws.close()
