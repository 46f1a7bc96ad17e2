"""WebSocket clients as a real app keeps them: authenticated, ACKing everything at once (and
again when the gateway answers ``TRY_AGAIN``), and reconnecting whenever the connection drops.
They record every frame they were sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.support.ws import token

__all__ = ["AckingClient"]


class AckingClient:
    def __init__(self, gateway_url: str, user: str) -> None:
        self.url = gateway_url.replace("http://", "ws://") + "/ws"
        self.user = user
        self.seen: Counter[str] = Counter()
        self.received_at: dict[str, float] = {}
        self.events: dict[str, str] = {}
        self.connects = 0
        self.ack_retries = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with connect(self.url, open_timeout=5, compression=None) as ws:
                    self._ws = ws
                    auth = {"type": "AUTH", "token": token(self.user)}
                    await ws.send(orjson.dumps(auth).decode())
                    self.connects += 1
                    async for data in ws:
                        frame = orjson.loads(data)
                        if frame["type"] == "ERROR" and frame.get("code") == "TRY_AGAIN":
                            # Redis was away: the ACK was not recorded; send it again.
                            self.ack_retries += 1
                            await asyncio.sleep(0.2)
                            again = {"type": "ACK", "notificationIds": frame["notificationIds"]}
                            await ws.send(orjson.dumps(again).decode())
                            continue
                        if frame["type"] != "NOTIFICATION":
                            continue
                        note = frame["notification"]
                        self.seen[note["id"]] += 1
                        self.received_at.setdefault(note["id"], asyncio.get_running_loop().time())
                        self.events[note["id"]] = note["eventId"]
                        ack = {"type": "ACK", "notificationId": note["id"]}
                        await ws.send(orjson.dumps(ack).decode())
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass
            self._ws = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.2)

    async def drop(self) -> None:
        """Cut the connection from this side, mid-stream; the client reconnects by itself."""
        if self._ws is not None:
            self._ws.transport.abort()

    @property
    def repeats(self) -> int:
        return sum(count - 1 for count in self.seen.values())

    async def close(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
