"""WebSocket clients as a real app keeps them, built on Herald's Python client
(``clients/python``): authenticated, ACKing every notification, reconnecting with backoff
whenever the connection drops, resending ACKs after ``TRY_AGAIN``. They record what the app
was shown; ``repeats`` counts the replays the client suppressed (the gateway delivers at
least once). A digest's update (a higher ``version`` of a notification already shown) is
shown again, as the app shows it in place: ``shown_twice`` counts one version shown twice.
A user can go offline (the app closes its client) and come back (a new client, as an app
started again makes): what it was shown is counted across both."""

from __future__ import annotations

import asyncio
from collections import Counter

from herald_client import Backoff, HeraldClient

from tests.support.ws import token

__all__ = ["AckingClient"]


class AckingClient:
    def __init__(self, gateway_url: str, user: str) -> None:
        self.user = user
        self.url = gateway_url.replace("http://", "ws://") + "/ws"
        self.client = self._new_client()
        self.retired: list[HeraldClient] = []  # closed by going offline
        self.seen: Counter[str] = Counter()  # what the app was shown, updates included
        self.versions: Counter[tuple[str, int]] = Counter()  # 1 each, or a bug
        self.received_at: dict[str, float] = {}
        self.events: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    def _new_client(self) -> HeraldClient:
        return HeraldClient(self.url, get_token=self._token, auto_ack=True,
                            backoff=Backoff(base=0.1, cap=1.0), open_timeout=5)

    async def _token(self) -> str:
        return token(self.user)

    def start(self) -> None:
        self.client.start()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        async for note in self.client:
            self.seen[note["id"]] += 1
            self.versions[note["id"], int(note.get("version", 1))] += 1
            self.received_at.setdefault(note["id"], loop.time())
            self.events[note["id"]] = note["eventId"]

    @property
    def connects(self) -> int:
        return sum(c.connects for c in (*self.retired, self.client))

    @property
    def ack_retries(self) -> int:
        return sum(c.ack_retries for c in (*self.retired, self.client))

    @property
    def repeats(self) -> int:
        return sum(c.ledger.duplicates for c in (*self.retired, self.client))

    @property
    def shown_twice(self) -> int:
        return sum(count - 1 for count in self.versions.values())

    async def drop(self) -> None:
        """Cut the connection from this side, mid-stream; the client reconnects by itself."""
        self.client.drop()

    async def offline(self) -> None:
        """The app closes its client (the ACKs it owes are sent first): the user is gone,
        and what is made for them piles up in the buffer."""
        await self.close()
        self.retired.append(self.client)
        self.client = self._new_client()

    def online(self) -> None:
        """The user comes back with a new client: the gateway replays what is pending."""
        self.start()

    async def close(self) -> None:
        await self.client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
