"""The Python client against a real gateway and consumer: delivery and ACKs, a dropped
connection, a gateway killed with SIGKILL and restarted, token refresh and a refused token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aio_pika.abc import AbstractChannel
from herald_client import HeraldClient, HeraldError
from redis.asyncio import Redis

from common.naming import Names
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.timing import eventually, scaled
from tests.support.ws import SECRET, token

pytestmark = pytest.mark.integration


@pytest.fixture
async def pipeline(services: Callable[..., Service]) -> Service:
    await services("consumer", RATE_LIMIT_COUNT="100000", SEMANTIC_WINDOW_SECONDS="0").start()
    return await services("ws_gateway", JWT_SECRET=SECRET).start()


def ws_url(gateway: Service) -> str:
    return f"ws://127.0.0.1:{gateway.port}/ws"


async def send(channel: AbstractChannel, names: Names, ids: list[str], user: str) -> None:
    for event_id in ids:
        await publish_raw(channel, names, event_body(event_id, recipients=[user],
                                                     postId=event_id))


async def collect(client: HeraldClient, count: int, seen: list[str]) -> None:
    async with asyncio.timeout(scaled(30)):
        async for note in client:
            seen.append(note["eventId"])
            if len(seen) >= count:
                return


async def test_each_notification_once_and_every_ack_lands_across_a_drop(
    pipeline: Service, channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    client = HeraldClient(ws_url(pipeline), token=token("pat"), auto_ack=True,
                          ack_delay=0.05)
    async with client:
        await client.wait_open(scaled(10))
        seen: list[str] = []
        reader = asyncio.create_task(collect(client, 60, seen))
        await send(channel, names, [f"d{n}" for n in range(30)], "pat")
        await eventually(lambda: asyncio.sleep(0, len(seen)), lambda n: n >= 10)
        client.drop()  # mid-stream, some ACKs not yet sent or confirmed
        await send(channel, names, [f"d{n}" for n in range(30, 60)], "pat")
        await reader
        await eventually(lambda: buffered(redis, names, "pat"), lambda b: b == {},
                         timeout=15)
    assert sorted(seen) == sorted(f"d{n}" for n in range(60))  # each once
    assert client.connects >= 2
    assert client.ledger.owed == {}


async def test_a_gateway_killed_and_restarted_loses_nothing_and_shows_nothing_twice(
    pipeline: Service, channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    client = HeraldClient(ws_url(pipeline), token=token("kim"), auto_ack=True)
    async with client:
        await client.wait_open(scaled(10))
        seen: list[str] = []
        reader = asyncio.create_task(collect(client, 40, seen))
        await send(channel, names, [f"k{n}" for n in range(20)], "kim")
        await eventually(lambda: asyncio.sleep(0, len(seen)), lambda n: n >= 5)
        pipeline.kill()
        await send(channel, names, [f"k{n}" for n in range(20, 40)], "kim")  # buffered
        pipeline.spawn()
        await pipeline.wait_up()
        await reader
        await eventually(lambda: buffered(redis, names, "kim"), lambda b: b == {},
                         timeout=15)
    assert sorted(seen) == sorted(f"k{n}" for n in range(40))
    assert client.connects >= 2


async def test_a_refused_token_is_refreshed_and_a_bad_static_one_stops(
    pipeline: Service,
) -> None:
    tokens = iter([token("ray", ttl=-60), token("ray")])  # expired first, then a good one
    calls = 0

    async def get_token() -> str:
        nonlocal calls
        calls += 1
        return next(tokens)

    async with HeraldClient(ws_url(pipeline), get_token=get_token) as client:
        await client.wait_open(scaled(15))
        assert calls == 2
        assert client.state == "open"

    stuck = HeraldClient(ws_url(pipeline), token=token("ray", secret="x" * 40))
    async with stuck:
        with pytest.raises(HeraldError) as refused:
            await stuck.wait_open(scaled(10))
    assert refused.value.code == 4003
    assert stuck.connects == 0


async def test_marks_over_the_read_api_reach_the_client_as_inbox_states(
    services: Callable[..., Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    from herald_client import ReadApi

    await services("consumer").start()
    await services("persister").start()
    producer = await services("producer").start()
    gateway = await services("ws_gateway", JWT_SECRET=SECRET).start()
    states: list[dict[str, object]] = []
    client = HeraldClient(ws_url(gateway), token=token("pat"), on_inbox=states.append)
    async with client, ReadApi(producer.url, token("pat")) as api:
        await client.wait_open(scaled(10))
        await send(channel, names, ["m0", "m1", "m2"], "pat")
        await eventually(lambda: buffered(redis, names, "pat"), lambda f: len(f) == 3)
        ids = sorted(await buffered(redis, names, "pat"))
        assert (await api.counts("pat"))["unseen"] == 3
        done = await api.mark("pat", "archived", [ids[0], "nope"])
        assert (done["marked"], done["unknown"]) == ([ids[0]], ["nope"])
        everything = await api.mark_all("pat", "seen")
        assert everything["changed"] == 2
        await eventually(lambda: asyncio.sleep(0, len(states)), lambda n: n == 2)
        assert [(s["seq"], s["mark"], s["unseen"], s["unread"]) for s in states] == [
            (done["state"]["seq"], "archived", 2, 2), (everything["state"]["seq"], "seen", 0, 2)]
        assert client.inbox == states[-1]
        assert [n["id"] async for n in api.history("pat", archived=True)] == [ids[0]]
        counts = await api.counts("pat")
        assert (counts["unseen"], counts["unread"], counts["seq"]) == (0, 2, states[-1]["seq"])
