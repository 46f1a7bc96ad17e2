"""WebSocket clients as a user's app would be: connect, AUTH, then read (and ACK).

Connections are opened with bounded parallelism (``parallel`` handshakes at a time) and
each has its own timeout, so opening thousands stays bounded in time. Compression is off,
as on the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.seed import Protocol

__all__ = ["AuthFailed", "close_all", "open_clients", "open_one"]


class AuthFailed(Exception):
    pass


async def open_one(url: str, protocol: Protocol, user: str, secret: str | None,
                    within_s: float) -> tuple[ClientConnection, list[dict[str, Any]]]:
    """An authenticated connection, and the frames that came with AUTH_OK (none, usually)."""
    ws = await connect(url, open_timeout=within_s, compression=None, max_queue=1024,
                       ping_interval=None, close_timeout=2)
    try:
        await ws.send(protocol.auth_frame(user, secret))
        early: list[dict[str, Any]] = []
        async with asyncio.timeout(within_s):
            while True:
                frame = orjson.loads(await ws.recv())
                if frame.get("type") == "AUTH_OK":
                    return ws, early
                if frame.get("type") == "ERROR":
                    raise AuthFailed(f"{user}: {frame}")
                early.append(frame)
    except BaseException:
        await ws.close()
        raise


async def open_clients(url: str, protocol: Protocol, users: list[str], secret: str | None,
                       parallel: int = 100, within_s: float = 15.0,
                       ) -> tuple[list[ClientConnection], list[str]]:
    """One authenticated connection per entry of ``users``; (connections, errors)."""
    gate = asyncio.Semaphore(parallel)
    errors: list[str] = []

    async def one(user: str) -> ClientConnection | None:
        async with gate:
            try:
                ws, _ = await open_one(url, protocol, user, secret, within_s)
                return ws
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return None

    opened = await asyncio.gather(*(one(u) for u in users))
    return [ws for ws in opened if ws is not None], errors


async def close_all(connections: list[ClientConnection], parallel: int = 500) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(ws: ClientConnection) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    await asyncio.gather(*(one(ws) for ws in connections))
