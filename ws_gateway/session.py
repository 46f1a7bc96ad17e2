"""One authenticated WebSocket connection: replay, live delivery, ACKs.

Order on AUTH: join the hub (subscription confirmed) → count pending → ``AUTH_OK`` →
:meth:`Session.start` (replay everything pending) → live frames. A notification published
during the replay is both in the replay and in the backlog; ids already sent are skipped, so
the client sees it once.

Memory: an idle session holds no queue and no task. Frames to send wait in a backlog made on
the first one, and a writer task runs only while the backlog is not empty; both are dropped
again once it has drained. (A queue and a writer task per connection were about 4 KiB of
each idle connection.)

Backpressure: at most ``SEND_QUEUE_SIZE`` live frames wait in the backlog. A client that falls
that far behind is closed with 1013; nothing is lost, since every unacked notification is
still pending in Redis and is replayed when it reconnects. A writer that fails for any other
reason than the connection closing closes it with 1011.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from common.auth import Identity
from common.buffer.pending import PendingStore
from common.logs import get_logger
from common.telemetry.trace import Tracer, event_id_of
from ws_gateway import protocol
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.guard import close_in_background
from ws_gateway.metrics import ACKS, CLOSES, DELIVERED, DELIVERY_SECONDS

__all__ = ["Session"]

log = get_logger(__name__)

SENT_MEMORY = 10_000

# A backlog entry: (notification id, its JSON, its createdAt in epoch seconds or None).
# ``_REPLAY`` asks the writer to replay everything pending (on start, and after a gap).
_Entry = tuple[str, str, float | None]
_REPLAY: _Entry = ("", "", None)
_LIVE = DELIVERED.labels("live")
_REPLAYED = DELIVERED.labels("replay")


class Session:
    __slots__ = ("_acks", "_backlog", "_close_timeout", "_closed", "_overloaded", "_pending",
                 "_queue_size", "_sent", "_started", "_tracer", "_writer",
                 "identity", "ws")

    def __init__(
        self,
        ws: ServerConnection,
        identity: Identity,
        pending: PendingStore,
        acks: AckBatcher,
        queue_size: int,
        close_timeout: float = 5.0,
        tracer: Tracer | None = None,
    ) -> None:
        self.ws = ws
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self.identity = identity
        self._pending = pending
        self._acks = acks
        self._queue_size = queue_size
        self._close_timeout = close_timeout
        self._backlog: deque[_Entry] | None = None  # made on the first frame to send
        self._sent: OrderedDict[str, None] | None = None  # made on the first frame sent
        self._writer: asyncio.Task[None] | None = None  # runs while the backlog is not empty
        self._started = False
        self._closed = False
        self._overloaded = False

    # --- called by the hub -----------------------------------------------------------------
    def deliver(self, notification_id: str, notification_json: str,
                created_s: float | None = None) -> None:
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        if len(backlog) >= self._queue_size:
            self._overload()
            return
        backlog.append((notification_id, notification_json, created_s))
        self._wake()

    def resync(self) -> None:
        """The live stream had a gap (pub/sub reconnected): replay pending again."""
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        if len(backlog) < self._queue_size:
            backlog.append(_REPLAY)
            self._wake()

    # --- called by the handler ---------------------------------------------------------------
    def start(self) -> None:
        """After ``AUTH_OK``: replay everything pending, then send live frames as they come.
        Frames delivered before this wait, and go after the replay."""
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        backlog.appendleft(_REPLAY)
        self._started = True
        self._wake()

    async def stop(self) -> None:
        """The connection is over: stop the writer, if one runs, and wait for it."""
        self._closed = True
        self._backlog = None
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    # --- the writer --------------------------------------------------------------------------
    def _wake(self) -> None:
        if self._writer is None and self._started and not self._closed:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Send the backlog until it is empty, then end (the next frame starts a new writer)."""
        try:
            backlog = self._backlog
            while backlog:
                entry = backlog.popleft()
                notification_id, body, created_s = entry
                if entry is _REPLAY:
                    await self._replay()
                elif await self._send(notification_id, body):
                    _LIVE.inc()
                    self._tracer.mark(event_id_of(body), "delivered", path="live",
                                      notificationId=notification_id)
                    if created_s is not None:
                        DELIVERY_SECONDS.observe(time.time() - created_s)
                backlog = self._backlog
            self._backlog = None
        except ConnectionClosed:
            self._closed = True  # later deliveries start no writer (the handler stops us)
        except Exception as exc:  # whatever it was, this session cannot go on
            log.error("session failed", userId=self.identity.user_id, error=repr(exc))
            self._closed = True
            CLOSES.labels("1011").inc()
            close_in_background(self.ws, 1011, "internal error; reconnect", self._close_timeout)
        finally:
            self._writer = None

    async def _replay(self) -> None:
        for notification_id, body in await self._pending.replay(
            self.identity.tenant_id, self.identity.user_id
        ):
            if await self._send(notification_id, body):
                _REPLAYED.inc()
                self._tracer.mark(event_id_of(body), "delivered", path="replay",
                                  notificationId=notification_id)

    async def _send(self, notification_id: str, body: str) -> bool:
        sent = self._sent
        if sent is None:
            sent = self._sent = OrderedDict()
        elif notification_id in sent:
            return False
        await self.ws.send(protocol.notification_frame(body))
        sent[notification_id] = None
        if len(sent) > SENT_MEMORY:
            sent.popitem(last=False)
        return True

    def _overload(self) -> None:
        if not self._overloaded:
            self._overloaded = True
            CLOSES.labels(str(protocol.CLOSE_OVERLOADED)).inc()
            log.warning("slow client closed", userId=self.identity.user_id)
            close_in_background(self.ws, protocol.CLOSE_OVERLOADED,
                                "too slow; reconnect for pending", self._close_timeout)

    # --- ACKs --------------------------------------------------------------------------------
    async def ack(self, ids: tuple[str, ...]) -> None:
        """Raises :class:`RedisError` if the ACK could not be recorded (nothing removed)."""
        acked, unknown = await self._acks.ack(self.identity.tenant_id, self.identity.user_id, ids)
        ACKS.inc(len(acked))
        await self.ws.send(protocol.ack_ok(acked, unknown))

