"""A WebSocket client as a user's app would be: AUTH, read frames, ACK."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.support.timing import FACTOR, scaled

__all__ = ["SECRET", "Client", "token"]

SECRET = "test-secret-0123456789abcdef-0123456789"


def token(user: str, tenant: str | None = None, ttl: float = 300, secret: str = SECRET,
          **claims: Any) -> str:
    body: dict[str, Any] = {"sub": user, "exp": int(time.time() + ttl), **claims}
    if tenant is not None:
        body["tid"] = tenant
    return jwt.encode(body, secret, algorithm="HS256")


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, path: str = "/ws") -> Client:
        ws = await connect(url.replace("http://", "ws://") + path, open_timeout=scaled(10),
                           compression=None)
        return cls(ws)

    @classmethod
    async def authed(cls, url: str, user: str, tenant: str | None = None
                     ) -> tuple[Client, dict[str, Any]]:
        client = await cls.connect(url)
        await client.send({"type": "AUTH", "token": token(user, tenant)})
        ok = await client.recv()
        assert ok["type"] == "AUTH_OK", ok
        return client, ok

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), scaled(timeout))
        frame: dict[str, Any] = orjson.loads(data)
        return frame

    async def notifications(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The next ``count`` NOTIFICATION payloads (other frames are skipped)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + scaled(timeout)
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(got)} of {count} notifications arrived")
            frame = await self.recv(remaining / max(1.0, 1.0))
            if frame["type"] == "NOTIFICATION":
                got.append(frame["notification"])
        return got

    async def before(self, event_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The frames that arrive before the NOTIFICATION of ``event_id``: a marker the test
        sent after whatever must not come through, and that travels the same way. A "nothing
        arrived" check then ends when the marker does, instead of after a guessed silence
        that a slow machine makes too short."""
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + scaled(timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the marker {event_id} did not arrive; before it: {frames}")
            frame = await self.recv(remaining / FACTOR)
            if frame["type"] == "NOTIFICATION" and frame["notification"]["eventId"] == event_id:
                return frames
            frames.append(frame)

    async def ack(self, *ids: str) -> dict[str, Any]:
        await self.send({"type": "ACK", "notificationIds": list(ids)})
        while True:
            frame = await self.recv()
            if frame["type"] == "ACK_OK":
                return frame

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the gateway closes; (close code, frames seen before)."""
        frames = []
        try:
            while True:
                frames.append(orjson.loads(await asyncio.wait_for(self.ws.recv(),
                                                                  scaled(timeout))))
        except Exception:
            pass
        code = self.ws.close_code
        return code, frames

    async def close(self) -> None:
        await self.ws.close()
