"""One authenticated WebSocket connection: replay, live delivery, ACKs.

Order on AUTH: join the hub (subscription confirmed) → count pending → ``AUTH_OK`` → replay
everything pending → live frames. A notification published during the replay is both in the
replay and in the live queue; ids already sent are skipped, so the client sees it once.

Backpressure: live frames wait in a queue of ``SEND_QUEUE_SIZE``. A client that falls that
far behind is closed with 1013; nothing is lost, since every unacked notification is still
pending in Redis and is replayed when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from datetime import datetime

import orjson
from websockets.asyncio.server import ServerConnection

from common.auth import Identity
from common.logs import get_logger
from ws_gateway import protocol
from ws_gateway.metrics import ACKS, CLOSES, DELIVERED, DELIVERY_SECONDS
from ws_gateway.pending import PendingStore

__all__ = ["Session"]

log = get_logger(__name__)

_BACKGROUND: set[asyncio.Task[None]] = set()  # closes in flight, kept from the GC

SENT_MEMORY = 10_000
_RESYNC = ("", "")


class Session:
    def __init__(
        self,
        ws: ServerConnection,
        identity: Identity,
        pending: PendingStore,
        queue_size: int,
    ) -> None:
        self.ws = ws
        self.identity = identity
        self._pending = pending
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(queue_size)
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._overloaded = False

    # --- called by the hub -----------------------------------------------------------------
    def deliver(self, notification_id: str, notification_json: str) -> None:
        try:
            self._queue.put_nowait((notification_id, notification_json))
        except asyncio.QueueFull:
            if not self._overloaded:
                self._overloaded = True
                CLOSES.labels(str(protocol.CLOSE_OVERLOADED)).inc()
                log.warning("slow client closed", userId=self.identity.user_id)
                closing = asyncio.get_running_loop().create_task(
                    self.ws.close(protocol.CLOSE_OVERLOADED, "too slow; reconnect for pending")
                )
                _BACKGROUND.add(closing)
                closing.add_done_callback(_BACKGROUND.discard)

    def resync(self) -> None:
        """The live stream had a gap (pub/sub reconnected): replay pending again."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_RESYNC)

    # --- the writer --------------------------------------------------------------------------
    async def write(self) -> None:
        """Replay, then live frames, until the connection closes."""
        await self._replay()
        while True:
            notification_id, body = await self._queue.get()
            if (notification_id, body) == _RESYNC:
                await self._replay()
            elif await self._send(notification_id, body):
                DELIVERED.labels("live").inc()
                _observe_latency(body)

    async def _replay(self) -> None:
        for notification_id, body in await self._pending.replay(
            self.identity.tenant_id, self.identity.user_id
        ):
            if await self._send(notification_id, body):
                DELIVERED.labels("replay").inc()

    async def _send(self, notification_id: str, body: str) -> bool:
        if notification_id in self._sent:
            return False
        await self.ws.send(protocol.notification_frame(body))
        self._sent[notification_id] = None
        if len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)
        return True

    # --- ACKs --------------------------------------------------------------------------------
    async def ack(self, ids: tuple[str, ...]) -> None:
        acked, unknown = await self._pending.ack(
            self.identity.tenant_id, self.identity.user_id, ids
        )
        ACKS.inc(len(acked))
        await self.ws.send(protocol.ack_ok(acked, unknown))


def _observe_latency(body: str) -> None:
    try:
        created = orjson.loads(body)["createdAt"]
        DELIVERY_SECONDS.observe(time.time() - datetime.fromisoformat(created).timestamp())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass


