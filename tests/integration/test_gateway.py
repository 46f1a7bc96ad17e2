"""The gateway as a real process, fed by the real consumer, driven over WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.models import notification_id
from common.naming import Names
from common.records import Status
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.processes import Service
from tests.support.reference import decode_entry
from tests.support.replies import entries
from tests.support.timing import eventually
from tests.support.ws import SECRET, Client, token

pytestmark = pytest.mark.integration


@pytest.fixture
async def pipeline(services: Callable[..., Service]) -> tuple[Service, Service]:
    consumer = await services("consumer", RATE_LIMIT_COUNT="100000",
                              SEMANTIC_WINDOW_SECONDS="0").start()
    gateway = await services("ws_gateway", JWT_SECRET=SECRET,
                             AUTH_TIMEOUT_SECONDS="1", MAX_FRAME_BYTES="4096",
                             MAX_BAD_FRAMES="3").start()
    return consumer, gateway


async def send_events(channel: AbstractChannel, names: Names, ids: list[str],
                      user: str = "bob", **over: object) -> None:
    for event_id in ids:
        await publish_raw(channel, names, event_body(event_id, recipients=[user],
                                                     postId=event_id, **over))


async def test_live_delivery_then_ack_moves_it_to_the_persist_stream(
    pipeline: tuple[Service, Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    _, gateway = pipeline
    bob, ok = await Client.authed(gateway.url, "bob")
    assert ok == {"type": "AUTH_OK", "userId": "bob", "tenantId": "default", "pending": 0}
    await send_events(channel, names, ["live-1"])
    [note] = await bob.notifications(1)
    assert note["id"] == notification_id("default", "live-1", "bob")
    assert note["message"] == "alice liked your post"

    answer = await bob.ack(note["id"])
    assert answer == {"type": "ACK_OK", "notificationIds": [note["id"]], "unknown": []}
    assert await buffered(redis, names, "bob") == {}
    [(_, fields)] = entries(await redis.xrange(names.keys.persist_stream))
    record = decode_entry(fields)
    assert record.status is Status.ACKED
    assert record.notification.id == note["id"]
    await bob.close()


async def test_replay_on_connect_to_two_devices_at_once(
    pipeline: tuple[Service, Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    _, gateway = pipeline
    await send_events(channel, names, ["r1", "r2", "r3"])
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 3)
    (phone, ok1), (laptop, ok2) = await asyncio.gather(
        Client.authed(gateway.url, "bob"), Client.authed(gateway.url, "bob"))
    assert ok1["pending"] == ok2["pending"] == 3
    for device in (phone, laptop):
        assert [n["eventId"] for n in await device.notifications(3)] == ["r1", "r2", "r3"]
    # Both devices also get what comes next, live.
    await send_events(channel, names, ["r4"])
    for device in (phone, laptop):
        assert [n["eventId"] for n in await device.notifications(1)] == ["r4"]
        await device.close()


async def test_no_gap_between_replay_and_live(
    pipeline: tuple[Service, Service], channel: AbstractChannel, names: Names
) -> None:
    _, gateway = pipeline
    ids = [f"flow-{n}" for n in range(200)]
    sender = asyncio.create_task(send_events(channel, names, ids))
    await asyncio.sleep(0.05)
    bob, _ = await Client.authed(gateway.url, "bob")
    await sender
    got = await bob.notifications(200, timeout=20)
    assert sorted(n["eventId"] for n in got) == sorted(ids)  # all, and each once
    await send_events(channel, names, ["flow-end"])  # no second copy of any comes before it
    assert await bob.before("flow-end") == []
    await bob.close()


async def test_users_and_tenants_see_and_ack_only_their_own(
    pipeline: tuple[Service, Service], channel: AbstractChannel, redis: Redis, names: Names
) -> None:
    _, gateway = pipeline
    await send_events(channel, names, ["for-carol"], user="carol")
    await send_events(channel, names, ["acme-bob"], tenantId="acme")
    carol_id = notification_id("default", "for-carol", "carol")
    await eventually(lambda: buffered(redis, names, "carol"), lambda f: len(f) == 1)
    await eventually(lambda: buffered(redis, names, "bob", tenant="acme"),
                     lambda f: len(f) == 1)

    bob, ok = await Client.authed(gateway.url, "bob")
    assert ok["pending"] == 0  # not carol's, not acme's bob's
    answer = await bob.ack(carol_id)
    assert answer["notificationIds"] == []
    assert answer["unknown"] == [carol_id]
    assert carol_id in await buffered(redis, names, "carol")
    await send_events(channel, names, ["for-bob"])  # carol's and acme's bob's would come first
    assert await bob.before("for-bob") == []

    acme_bob, ok = await Client.authed(gateway.url, "bob", tenant="acme")
    assert ok["tenantId"] == "acme"
    assert ok["pending"] == 1
    [note] = await acme_bob.notifications(1)
    assert note["tenantId"] == "acme"
    await bob.close()
    await acme_bob.close()


@pytest.mark.parametrize(
    ("frame", "code", "error"),
    [
        # Tokens are made when the test runs (a lambda), not at import: a valid one made at
        # import time may have expired by then on a slow run and answer AUTH_EXPIRED.
        ({"type": "AUTH", "token": "not.a.jwt"}, 4003, "AUTH_INVALID"),
        (lambda: {"type": "AUTH", "token": token("bob", secret="someone-elses-secret-" + "0" * 20)},
         4003, "AUTH_INVALID"),
        (lambda: {"type": "AUTH", "token": token("bob", ttl=-60)}, 4003, "AUTH_EXPIRED"),
        ({"type": "AUTH", "userId": "bob"}, 4003, "AUTH_REQUIRED"),
        (lambda: {"type": "AUTH", "token": token("bad user")}, 4003, "AUTH_INVALID"),
        ({"type": "ACK", "notificationId": "x"}, 4001, "AUTH_REQUIRED"),
        ("garbage", 4001, "AUTH_REQUIRED"),
    ],
)
async def test_bad_auth_is_refused_with_its_close_code(
    pipeline: tuple[Service, Service], frame: object, code: int, error: str
) -> None:
    _, gateway = pipeline
    client = await Client.connect(gateway.url)
    if callable(frame):
        frame = frame()
    if isinstance(frame, dict):
        await client.send(frame)
    else:
        assert isinstance(frame, str)
        await client.ws.send(frame)
    close_code, frames = await client.closed()
    assert close_code == code
    assert frames[0]["type"] == "ERROR"
    assert frames[0]["code"] == error
    good, _ = await Client.authed(gateway.url, "bob")  # the gateway carries on
    await good.close()


async def test_auth_too_late_is_closed_4002(pipeline: tuple[Service, Service]) -> None:
    _, gateway = pipeline
    client = await Client.connect(gateway.url, path="/")
    close_code, frames = await client.closed()
    assert close_code == 4002
    assert frames[0]["code"] == "AUTH_TIMEOUT"


async def test_garbage_after_auth_gets_errors_then_1008(
    pipeline: tuple[Service, Service], channel: AbstractChannel, names: Names
) -> None:
    _, gateway = pipeline
    bob, _ = await Client.authed(gateway.url, "bob")
    await bob.ws.send("{not json")
    assert (await bob.recv())["code"] == "BAD_FRAME"
    await bob.ws.send(b"\x00\x01binary")
    assert (await bob.recv())["code"] == "BAD_FRAME"
    await bob.send({"type": "ACK", "notificationIds": [1, 2]})
    assert (await bob.recv())["code"] == "BAD_ACK"
    # Still served: a notification arrives after three bad frames.
    await send_events(channel, names, ["still-here"])
    assert [n["eventId"] for n in await bob.notifications(1)] == ["still-here"]
    await bob.send({"type": "POKE"})
    close_code, frames = await bob.closed()
    assert frames[0]["code"] == "UNKNOWN_TYPE"
    assert close_code == 1008


async def test_oversized_and_invalid_utf8_frames_close_only_that_connection(
    pipeline: tuple[Service, Service],
) -> None:
    _, gateway = pipeline
    watcher, _ = await Client.authed(gateway.url, "carol")
    big, _ = await Client.authed(gateway.url, "bob")
    await big.ws.send("x" * 10_000)
    assert (await big.closed())[0] == 1009
    broken, _ = await Client.authed(gateway.url, "bob")
    await broken.ws.send(b"\xff\xfe not utf-8", text=True)
    assert (await broken.closed())[0] == 1007
    assert watcher.ws.state.name == "OPEN"
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.url + "/readyz")).status_code == 200
        assert (await client.get(gateway.url + "/nope")).status_code == 404
    await watcher.close()


async def test_a_refused_handshake_is_answered_in_json(pipeline: tuple[Service, Service]) -> None:
    _, gateway = pipeline
    async with httpx.AsyncClient() as client:
        plain = await client.get(gateway.url + "/ws")  # HTTP without the upgrade
        broken = await client.get(gateway.url + "/ws", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
    assert plain.status_code == 426
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["error"] == "upgrade_required"
    assert plain.headers["upgrade"] == "websocket"
    assert broken.status_code == 400  # no Sec-WebSocket-Key
    assert broken.json()["error"] == "bad_handshake"
    assert "Sec-WebSocket-Key" in broken.json()["message"]


async def test_two_gateways_deliver_to_a_user_on_either(
    pipeline: tuple[Service, Service], services: Callable[..., Service],
    channel: AbstractChannel, names: Names,
) -> None:
    _, first = pipeline
    second = await services("ws_gateway", JWT_SECRET=SECRET).start()
    on_first, _ = await Client.authed(first.url, "bob")
    on_second, _ = await Client.authed(second.url, "bob")
    await send_events(channel, names, ["both"])
    for client in (on_first, on_second):
        assert [n["eventId"] for n in await client.notifications(1)] == ["both"]
        await client.close()


async def test_gateway_killed_and_restarted_clients_get_everything_unacked(
    pipeline: tuple[Service, Service], channel: AbstractChannel, names: Names
) -> None:
    _, gateway = pipeline
    bob, _ = await Client.authed(gateway.url, "bob")
    await send_events(channel, names, ["k1", "k2"])
    first = await bob.notifications(2)
    await bob.ack(first[0]["id"])
    gateway.kill()
    await send_events(channel, names, ["k3"])  # while no gateway runs
    gateway.spawn()
    await gateway.wait_up()
    again, ok = await Client.authed(gateway.url, "bob")
    assert ok["pending"] == 2
    assert [n["eventId"] for n in await again.notifications(2)] == ["k2", "k3"]
    await again.close()


async def test_sigterm_closes_clients_with_1001_and_exits_0(
    pipeline: tuple[Service, Service],
) -> None:
    _, gateway = pipeline
    bob, _ = await Client.authed(gateway.url, "bob")
    exit_code = asyncio.create_task(gateway.terminate())
    assert (await bob.closed())[0] == 1001
    assert await exit_code == 0


async def test_jwt_mode_refuses_to_start_without_a_key(services: Callable[..., Service]) -> None:
    gateway = services("ws_gateway", AUTH_MODE="jwt", JWT_SECRET="", JWT_PUBLIC_KEY="")
    gateway.spawn()
    assert gateway.proc is not None
    assert gateway.proc.wait(30) == 2
    assert "AUTH_MODE=jwt needs JWT_SECRET" in gateway.logs()


async def test_a_burst_of_acks_from_many_connections_is_served(
    pipeline: tuple[Service, Service], channel: AbstractChannel, names: Names
) -> None:
    """More connections ACKing at once than a default redis-py pool holds (100): each gets
    ACK_OK, none is closed with 1011."""
    _, gateway = pipeline
    users = [f"crowd{n}" for n in range(150)]
    clients = [c for c, _ in await asyncio.gather(*(Client.authed(gateway.url, u)
                                                    for u in users))]
    for user in users:
        await publish_raw(channel, names, event_body(f"crowd-{user}", recipients=[user]))
    notes = await asyncio.gather(*(c.notifications(1, timeout=20) for c in clients))
    answers = await asyncio.gather(*(c.ack(n[0]["id"]) for c, n in zip(clients, notes,
                                                                       strict=True)))
    assert all(a["notificationIds"] == [n[0]["id"]] for a, n in zip(answers, notes,
                                                                    strict=True))
    assert all(c.ws.close_code is None for c in clients)
    await asyncio.gather(*(c.close() for c in clients))
