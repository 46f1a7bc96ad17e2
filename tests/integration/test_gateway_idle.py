"""What an idle authenticated connection holds, checked on the gateway's own objects: the
handler runs in this process, against the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.server import Server, ServerConnection, serve

from common.auth import Verifier
from common.buffer.pending import PendingStore
from common.naming import Names
from tests.conftest import REDIS_URL
from tests.support.timing import eventually
from tests.support.ws import SECRET, Client
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.handler import Handler
from ws_gateway.hub import Hub
from ws_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(prefix: str) -> AsyncIterator[tuple[Server, Redis]]:
    settings = GatewaySettings(jwt_secret=SECRET, herald_prefix=prefix,
                               redis_url=REDIS_URL)
    redis = Redis.from_url(REDIS_URL)
    hub = Hub(redis)
    await hub.start()
    pending = PendingStore(redis, settings.names.keys)
    acks = AckBatcher(pending)
    handler = Handler(settings, Verifier.from_settings(settings), hub, pending, acks)
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        yield server, redis
        server.close()
        await server.wait_closed()
    await acks.close()
    await hub.close()
    await redis.aclose()


def writers() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith("Session.")]


async def writers_gone() -> None:
    """Every session's writer ends once its backlog is sent (nothing new is sent meanwhile,
    so none starts again): waited for, up to the suite's deadline."""
    await eventually(lambda: asyncio.sleep(0, writers()), lambda found: found == [])


async def test_an_idle_session_holds_no_writer_and_no_handshake_headers(
    gateway: tuple[Server, Redis], names: Names
) -> None:
    server, redis = gateway
    port = next(iter(server.sockets)).getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    clients = [c for c, _ in await asyncio.gather(*(Client.authed(url, f"idle{n}")
                                                    for n in range(20)))]
    # An ACK answered on each connection means its session has started (the handler starts
    # it after AUTH_OK, then reads): every replay of nothing has begun. Then each must end.
    for client in clients:
        assert (await client.ack("n-none"))["unknown"] == ["n-none"]
    await writers_gone()
    connections: list[ServerConnection] = list(server.connections)
    assert len(connections) == 20
    assert all(c.request is not None and len(c.request.headers) == 0 for c in connections)

    # A live frame starts a writer; once it is sent, the writer is gone again.
    note = {"id": "n-live-1", "createdAt": "2026-01-01T00:00:00.000Z", "message": "hi"}
    await redis.publish(names.keys.live_channel("default", "idle3"), orjson.dumps(note))
    [got] = await clients[3].notifications(1)
    assert got == note
    await writers_gone()
    # idle3's frame is not idle4's: a marker published to idle4 afterwards comes first.
    marker = {"id": "n-live-2", "eventId": "marker", "message": "hi"}
    await redis.publish(names.keys.live_channel("default", "idle4"), orjson.dumps(marker))
    assert await clients[4].before("marker") == []
    await asyncio.gather(*(c.close() for c in clients))
