"""A digest's updates through a real gateway process (:mod:`common.buffer.digest` writes them
to the real Redis, as the consumer will): ``NOTIFICATION_UPDATE`` in version order, the
latest body as a ``NOTIFICATION`` on a new connection, and the Python client yielding the
update of the same id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from herald_client import HeraldClient
from redis.asyncio import Redis

from common.buffer.digest import DigestBuffer, DigestCandidate, DigestOutcome, DigestState
from common.naming import Names
from tests.conftest import REDIS_URL
from tests.support.buffer import note
from tests.support.processes import Service
from tests.support.timing import scaled
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(services: Callable[..., Service]) -> Service:
    return await services("ws_gateway", JWT_SECRET=SECRET).start()


@pytest.fixture
async def digests(names: Names) -> AsyncIterator[DigestBuffer]:
    client = Redis.from_url(REDIS_URL)
    yield DigestBuffer(client, names.keys, dedup_ttl_ms=600_000, max_pending=10_000)
    await client.aclose()


def like(event_id: str, actor: str, user: str = "bob") -> DigestCandidate:
    return DigestCandidate(note(event_id, user, actor=actor).model_copy(
        update={"postId": "p1"}), "postId=p1", 60_000)


def render(state: DigestState) -> str:
    if state.others == 0:
        return f"{state.actors[0]} liked your post"
    return f"{state.actors[0]} and {state.others} others liked your post"


async def frames(client: Client, count: int) -> list[tuple[str, int, str]]:
    """(type, version, message) of the next ``count`` notification frames."""
    got: list[tuple[str, int, str]] = []
    while len(got) < count:
        frame = await client.recv()
        if frame["type"] in ("NOTIFICATION", "NOTIFICATION_UPDATE"):
            n = frame["notification"]
            got.append((frame["type"], n["version"], n["message"]))
    return got


async def test_updates_reach_a_connected_client_in_place_and_in_order(
    gateway: Service, digests: DigestBuffer
) -> None:
    bob, _ = await Client.authed(gateway.url, "bob")
    [opened] = await digests.join([like("e0", "alice")], render)
    assert opened.notification is not None
    await digests.join([like("e1", "carol"), like("e2", "dave")], render)
    assert await frames(bob, 3) == [
        ("NOTIFICATION", 1, "alice liked your post"),
        ("NOTIFICATION_UPDATE", 2, "carol and 1 others liked your post"),
        ("NOTIFICATION_UPDATE", 3, "dave and 2 others liked your post")]
    # acknowledged: the next update goes to the store's stream, and still live to the client
    answer = await bob.ack(opened.notification.id)
    assert answer["notificationIds"] == [opened.notification.id]
    [joined] = await digests.join([like("e3", "erin")], render)
    assert joined.outcome is DigestOutcome.JOINED_STORED
    assert await frames(bob, 1) == [("NOTIFICATION_UPDATE", 4,
                                     "erin and 3 others liked your post")]
    # an ACK of an update of an acknowledged notification changes nothing
    assert (await bob.ack(opened.notification.id))["unknown"] == [opened.notification.id]
    await bob.close()


async def test_a_new_connection_gets_the_latest_body_as_a_notification(
    gateway: Service, digests: DigestBuffer
) -> None:
    await digests.join([like(f"e{i}", f"a{i}") for i in range(5)], render)
    phone, ok = await Client.authed(gateway.url, "bob")
    assert ok["pending"] == 1, "the unread count counts the digest once"
    assert await frames(phone, 1) == [("NOTIFICATION", 5, "a4 and 4 others liked your post")]
    await digests.join([like("e5", "a5")], render)
    assert await frames(phone, 1) == [("NOTIFICATION_UPDATE", 6,
                                       "a5 and 5 others liked your post")]
    await phone.close()


async def test_the_python_client_yields_the_update_of_the_same_id(
    gateway: Service, digests: DigestBuffer
) -> None:
    client = HeraldClient(f"ws://127.0.0.1:{gateway.port}/ws", token=token("bob"),
                          auto_ack=True)
    got: list[dict[str, Any]] = []

    async def read(count: int) -> None:
        async with asyncio.timeout(scaled(10)):
            async for n in client:
                got.append(n)
                if len(got) >= count:
                    return

    async with client:
        await client.wait_open(scaled(10))
        await digests.join([like("e0", "alice")], render)
        await read(1)
        await digests.join([like("e1", "carol")], render)
        await read(2)
    assert [(n["id"], n["version"]) for n in got] == [(got[0]["id"], 1), (got[0]["id"], 2)]
    assert client.updates == 1
