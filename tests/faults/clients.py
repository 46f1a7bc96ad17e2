"""WebSocket clients as a real app keeps them, built on Herald's Python client
(``clients/python``): authenticated, ACKing every notification, reconnecting with backoff
whenever the connection drops, resending ACKs after ``TRY_AGAIN``. They record what the app
was shown; ``repeats`` counts the replays the client suppressed (the gateway delivers at
least once)."""

from __future__ import annotations

import asyncio
from collections import Counter

from herald_client import Backoff, HeraldClient

from tests.support.ws import token

__all__ = ["AckingClient"]


class AckingClient:
    def __init__(self, gateway_url: str, user: str) -> None:
        self.user = user
        self.client = HeraldClient(
            gateway_url.replace("http://", "ws://") + "/ws",
            get_token=self._token, auto_ack=True, backoff=Backoff(base=0.1, cap=1.0),
            open_timeout=5)
        self.seen: Counter[str] = Counter()  # what the app was shown: 1 each, or a bug
        self.received_at: dict[str, float] = {}
        self.events: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def _token(self) -> str:
        return token(self.user)

    def start(self) -> None:
        self.client.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for note in self.client:
            self.seen[note["id"]] += 1
            self.received_at.setdefault(note["id"], loop.time())
            self.events[note["id"]] = note["eventId"]

    @property
    def connects(self) -> int:
        return self.client.connects

    @property
    def ack_retries(self) -> int:
        return self.client.ack_retries

    @property
    def repeats(self) -> int:
        return self.client.ledger.duplicates

    @property
    def shown_twice(self) -> int:
        return sum(count - 1 for count in self.seen.values())

    async def drop(self) -> None:
        """Cut the connection from this side, mid-stream; the client reconnects by itself."""
        self.client.drop()

    async def close(self) -> None:
        await self.client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
