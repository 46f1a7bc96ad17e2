"""Hostile clients against a real gateway process: its RSS stays bounded, each of them is cut
off, and a legitimate user meanwhile keeps receiving with its usual latency.

Every loop is bounded in frames and seconds, and everything targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from common.naming import Names
from tests.support.processes import Service
from tests.support.raw_ws import RawClient, open_tcp
from tests.support.timing import eventually, scaled
from tests.support.ws import SECRET, Client, token
from ws_gateway import protocol

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
# What one kind of hostile client may add to the gateway's RSS (README, "Limits"): measured
# 0-1.5 MiB. Connections held open cost about 20 KiB each (measured 19); 32 KiB is asserted.
RSS_BOUND = 8 * MiB
PER_CONNECTION = 32 * 1024

STALL = 1.5  # WRITE_STALL_SECONDS of the gateway under test (scaled below)
AUTH_TIMEOUT = 2.0
HANDSHAKE_TIMEOUT = 2.0
MAX_UNAUTHENTICATED = 200


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class RssPeak:
    """Samples a process's RSS every 50 ms while in use; ``peak - base`` is what it grew."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss(pid)
        self.peak = self.base
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss(self.pid))
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> RssPeak:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.peak = max(self.peak, rss(self.pid))
        print(f"gateway RSS {self.base / MiB:.1f} MiB, grew {self.grew / MiB:.1f} MiB")

    @property
    def grew(self) -> int:
        return self.peak - self.base


@dataclass
class LegitUser:
    """An authenticated user receiving a notification every 50 ms, published to its live
    channel, for as long as the test runs; records each one's latency."""

    client: Client
    redis: Redis
    channel: str
    sent: int = 0
    latencies: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and self.sent < 2000:
            note = {"id": f"legit-{self.sent}", "createdAt": "2026-01-01T00:00:00.000Z",
                    "message": "still here"}
            started = time.monotonic()
            await self.redis.publish(self.channel, orjson.dumps(note))
            self.sent += 1
            [got] = await self.client.notifications(1, timeout=10)
            assert got["id"] == note["id"]
            self.latencies.append(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    def assert_served(self) -> None:
        assert self.sent >= 5, "the legitimate user was not exercised"
        assert len(self.latencies) == self.sent
        worst = max(self.latencies)
        assert worst < scaled(0.5), f"legitimate user's worst latency {worst:.3f} s"


@pytest.fixture
async def gateway(services: Callable[..., Service]) -> Service:
    return await services(
        "ws_gateway", JWT_SECRET=SECRET,
        AUTH_TIMEOUT_SECONDS=str(scaled(AUTH_TIMEOUT)),
        HANDSHAKE_TIMEOUT_SECONDS=str(scaled(HANDSHAKE_TIMEOUT)),
        WRITE_STALL_SECONDS=str(scaled(STALL)),
        CLOSE_TIMEOUT_SECONDS=str(scaled(2)),
        MAX_UNAUTHENTICATED=str(MAX_UNAUTHENTICATED),
        SEND_QUEUE_SIZE="256",
    ).start()


@contextlib.asynccontextmanager
async def legit_user(gateway: Service, redis: Redis, names: Names) -> AsyncIterator[LegitUser]:
    client, _ = await Client.authed(gateway.url, "legit")
    user = LegitUser(client, redis, names.keys.live_channel("default", "legit"))
    stop = asyncio.Event()
    task = asyncio.create_task(user.run(stop))
    try:
        yield user
        # However soon the hostile clients were dealt with, the user had a few turns.
        await eventually(lambda: asyncio.sleep(0, user.sent), lambda n: n >= 10, timeout=10)
    finally:
        stop.set()
        await task
        await client.close()


async def metric(gateway: Service, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(gateway.url + "/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


async def test_ping_flood_that_never_reads_is_cut_off_and_costs_little(
    gateway: Service, redis: Redis, names: Names
) -> None:
    assert gateway.proc is not None
    async with legit_user(gateway, redis, names) as user, RssPeak(gateway.proc.pid) as peak:
        flooders = [await RawClient.open(gateway.port) for _ in range(4)]
        ping = flooders[0].raw(Opcode.PING, b"x" * 125)
        results = await asyncio.gather(*(
            f.flood(ping, seconds=scaled(STALL + AUTH_TIMEOUT + 6), max_frames=2_000_000)
            for f in flooders))
    for flooder in flooders:
        flooder.abort()
    for written, cut in results:
        assert cut, f"a ping flooder ({written} pings) was never cut off"
    assert peak.grew < RSS_BOUND, f"gateway RSS grew {peak.grew / MiB:.1f} MiB"
    user.assert_served()
    assert await metric(gateway, "herald_gateway_aborts_total") >= 1


async def test_authenticated_client_that_never_reads_is_closed_while_others_receive(
    gateway: Service, redis: Redis, names: Names
) -> None:
    assert gateway.proc is not None
    sink = await RawClient.open(gateway.port)
    sink.send_text(orjson.dumps({"type": "AUTH", "token": token("sink")}).decode())
    body = "y" * 4000
    channel = names.keys.live_channel("default", "sink")
    async with legit_user(gateway, redis, names) as user, RssPeak(gateway.proc.pid) as peak:
        for start in range(0, 3000, 100):  # 12 MB of notifications for a client that won't read
            async with redis.pipeline(transaction=False) as pipe:
                for n in range(start, start + 100):
                    pipe.publish(channel, orjson.dumps({"id": f"s-{n}", "message": body}))
                await pipe.execute()
        # It never reads, so it can't see its close: the gateway's count of sessions says.
        await eventually(lambda: metric(gateway, "herald_gateway_connections"),
                         lambda n: n == 1, timeout=STALL + 8)
        assert await metric(gateway, "herald_gateway_closes_total") + \
            await metric(gateway, "herald_gateway_aborts_total") >= 1
    sink.abort()
    assert peak.grew < RSS_BOUND, f"gateway RSS grew {peak.grew / MiB:.1f} MiB"
    user.assert_served()


async def test_thousands_that_never_auth_are_evicted_and_timed_out_a_user_still_gets_in(
    gateway: Service, redis: Redis, names: Names
) -> None:
    assert gateway.proc is not None
    count = 5 * MAX_UNAUTHENTICATED
    async with legit_user(gateway, redis, names) as user, RssPeak(gateway.proc.pid) as peak:
        idle: list[RawClient] = []
        for start in range(0, count, 100):
            idle += await asyncio.gather(*(RawClient.open(gateway.port)
                                           for _ in range(start, min(count, start + 100))))
        # One who AUTHs at once gets in, even with every AUTH slot taken.
        late, ok = await Client.authed(gateway.url, "late")
        assert ok["type"] == "AUTH_OK"
        codes = await asyncio.gather(*(c.close_code(scaled(AUTH_TIMEOUT + 8)) for c in idle))
    evicted = codes.count(protocol.CLOSE_TOO_MANY)
    timed_out = codes.count(protocol.CLOSE_AUTH_TIMEOUT)
    assert evicted >= count - MAX_UNAUTHENTICATED
    assert evicted + timed_out == count, sorted(set(codes), key=str)
    assert peak.grew < count * PER_CONNECTION, f"gateway RSS grew {peak.grew / MiB:.1f} MiB"
    user.assert_served()
    await eventually(lambda: metric(gateway, "herald_gateway_unauthenticated_connections"),
                     lambda n: n == 0, timeout=8)
    await late.close()
    for client in idle:
        client.abort()


async def test_slowloris_handshakes_are_dropped_after_the_handshake_timeout(
    gateway: Service, redis: Redis, names: Names
) -> None:
    assert gateway.proc is not None

    async def slowloris() -> bool:
        reader, writer = await open_tcp(gateway.port)
        request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n").encode()
        deadline = time.monotonic() + scaled(HANDSHAKE_TIMEOUT + 6)
        try:
            for n in range(len(request)):  # one byte every 100 ms, never the blank line
                writer.write(request[n:n + 1])
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        if not await reader.read(1024):
                            return True
                if time.monotonic() > deadline:
                    return False
        except (ConnectionError, OSError):
            return True
        finally:
            writer.transport.abort()
        return False

    async with legit_user(gateway, redis, names) as user, RssPeak(gateway.proc.pid) as peak:
        dropped = await asyncio.gather(*(slowloris() for _ in range(50)))
    assert all(dropped), f"{dropped.count(False)} slow handshakes outlived the timeout"
    assert peak.grew < RSS_BOUND
    user.assert_served()


async def test_fragments_that_never_finish_are_closed(
    gateway: Service, redis: Redis, names: Names
) -> None:
    assert gateway.proc is not None
    async with legit_user(gateway, redis, names) as user, RssPeak(gateway.proc.pid) as peak:
        # One that keeps fragmenting past MAX_FRAME_BYTES: 1009, at once.
        big = await RawClient.open(gateway.port)
        first = big.raw(Opcode.TEXT, b"{" * 1000, fin=False)
        more = big.raw(Opcode.CONT, b"a" * 1000, fin=False)
        big.writer.write(first + more * 100)
        # One that sends a fragment now and then, never the last: AUTH timeout, 4002.
        slow = await RawClient.open(gateway.port)
        slow.writer.write(first)
        big_code, slow_code = await asyncio.gather(
            big.close_code(scaled(5)), slow.close_code(scaled(AUTH_TIMEOUT + 5)))
    assert big_code == protocol.CLOSE_TOO_BIG
    assert slow_code == protocol.CLOSE_AUTH_TIMEOUT
    assert peak.grew < RSS_BOUND
    user.assert_served()
    big.abort()
    slow.abort()


async def test_rejected_at_max_connections_with_4029(
    services: Callable[..., Service], redis: Redis, names: Names
) -> None:
    gateway = await services("ws_gateway", JWT_SECRET=SECRET, MAX_CONNECTIONS="3",
                             MAX_CONNECTIONS_PER_ADDRESS="0").start()
    clients = [c for c, _ in [await Client.authed(gateway.url, f"u{n}") for n in range(3)]]
    extra = await Client.connect(gateway.url)
    code, _ = await extra.closed(timeout=5)
    assert code == protocol.CLOSE_TOO_MANY
    await clients[0].close()
    # A slot is free again once a connection has gone.
    again, ok = await eventually(lambda: _try_auth(gateway), lambda r: r[1] is not None)
    assert ok is not None
    assert ok["type"] == "AUTH_OK"
    for client in [*clients[1:], again]:
        if client is not None:
            await client.close()


async def _try_auth(gateway: Service) -> tuple[Client | None, dict[str, object] | None]:
    client = await Client.connect(gateway.url)
    try:
        await client.send({"type": "AUTH", "token": token("again")})
        frame = await client.recv(timeout=2)
        if frame.get("type") == "AUTH_OK":
            return client, frame
    except (ConnectionClosed, TimeoutError):
        pass
    await client.close()
    return None, None
