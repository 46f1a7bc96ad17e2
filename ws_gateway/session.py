"""One authenticated WebSocket connection's I/O: it carries out what its
:class:`~ws_gateway.session_core.SessionCore` decides (replay, live delivery, ACKs, the 1013
close of a slow reader) and feeds it what Redis and the hub answer. The rules are there.

Order on AUTH: join the hub (subscription confirmed) → count pending → ``AUTH_OK`` →
:meth:`Session.start` (replay everything pending) → live frames.

Memory: an idle session holds no task. A writer task runs only while the core has
notifications to send, and ends when it has none. (A queue and a writer task per connection
were about 4 KiB of each idle connection.) A writer that fails for any other reason than the
connection closing closes it with 1011.
"""

from __future__ import annotations

import asyncio
import time

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from common.auth import Identity
from common.buffer.pending import PendingStore
from common.logs import get_logger
from common.store.holder import StoreUnavailable
from common.telemetry.trace import Tracer, event_id_of
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.guard import close_in_background
from ws_gateway.marks import Marks
from ws_gateway.metrics import ACKS, CLOSES, DELIVERED, DELIVERY_SECONDS
from ws_gateway.session_core import (
    Action,
    ApplyMark,
    Close,
    Deliver,
    Send,
    SessionCore,
    StartWriter,
)

__all__ = ["Session"]

log = get_logger(__name__)

_DELIVERED = {"live": DELIVERED.labels("live"), "replay": DELIVERED.labels("replay")}


class Session:
    __slots__ = ("_acks", "_close_timeout", "_marks", "_pending", "_tracer", "_writer", "core",
                 "identity", "ws")

    def __init__(
        self,
        ws: ServerConnection,
        identity: Identity,
        core: SessionCore,
        pending: PendingStore,
        acks: AckBatcher,
        close_timeout: float = 5.0,
        tracer: Tracer | None = None,
        marks: Marks | None = None,
    ) -> None:
        self.ws = ws
        self.identity = identity
        self.core = core
        self._pending = pending
        self._acks = acks
        self._close_timeout = close_timeout
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._marks = marks  # None: every mark is answered TRY_AGAIN
        self._writer: asyncio.Task[None] | None = None  # runs while the core has frames to send

    # --- called by the hub -----------------------------------------------------------------
    def deliver(self, notification_id: str, notification_json: str,
                created_s: float | None = None, version: int = 1) -> None:
        self._carry_out(self.core.live(notification_id, notification_json, created_s,
                                       version))

    def resync(self) -> None:
        """The live stream had a gap (pub/sub reconnected): replay pending again."""
        self._carry_out(self.core.resync())

    def inbox(self, frame: str) -> None:
        """An ``INBOX_STATE`` of this user (a mark made anywhere)."""
        self._carry_out(self.core.inbox(frame))

    # --- called by the handler ---------------------------------------------------------------
    def start(self) -> None:
        """After ``AUTH_OK``: replay everything pending, then send live frames as they come."""
        self._carry_out(self.core.start())

    async def stop(self) -> None:
        """The connection is over: stop the writer, if one runs, and wait for it."""
        self.core.closed()
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def ack(self, ids: tuple[str, ...]) -> list[Action]:
        """Records an ACK (batched with other connections'), and says what to answer."""
        try:
            acked, unknown = await self._acks.ack(self.identity.tenant_id,
                                                  self.identity.user_id, ids)
        except RedisError as exc:
            # Nothing was removed unless it was also recorded; the client resends.
            log.warning("ack not recorded", error=repr(exc)[:200])
            return self.core.ack_failed(ids)
        ACKS.inc(len(acked))
        return self.core.ack_done(acked, unknown)

    async def mark(self, asked: ApplyMark) -> list[Action]:
        """Makes a MARK / MARK_ALL through :class:`common.inbox.Inbox` (which announces the
        new state to every connection of the user, this one too), and says what to answer."""
        try:
            if self._marks is None:
                raise StoreUnavailable("this gateway has no store")
            text = await self._marks.apply(self.identity, asked)
        except Exception as exc:  # the store away, Redis, or the store's own errors
            expected = isinstance(exc, StoreUnavailable | RedisError | OSError | TimeoutError)
            (log.warning if expected else log.error)("mark not recorded",
                                                     error=repr(exc)[:200])
            return self.core.mark_failed(asked)
        return self.core.mark_done(text)

    # --- carrying out the core's decisions -------------------------------------------------
    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, StartWriter):
                self._writer = asyncio.get_running_loop().create_task(self._write())
            elif isinstance(action, Close):
                CLOSES.labels(str(action.code)).inc()
                log.warning("slow client closed", userId=self.identity.user_id)
                close_in_background(self.ws, action.code, action.reason, self._close_timeout)

    async def _write(self) -> None:
        """Send what the core hands out until it has nothing left, then end."""
        try:
            while (step := self.core.next_step()) is not None:
                if isinstance(step, Deliver):
                    await self._send(step)
                    continue
                if isinstance(step, Send):
                    await self.ws.send(step.text)
                    continue
                batch = await self._pending.replay(self.identity.tenant_id,
                                                   self.identity.user_id)
                for replayed in self.core.replayed(batch):
                    await self._send(replayed)
        except ConnectionClosed:
            self.core.closed()  # later deliveries start no writer (the handler stops us)
        except Exception as exc:  # whatever it was, this session cannot go on
            log.error("session failed", userId=self.identity.user_id, error=repr(exc))
            for action in self.core.failed():
                if isinstance(action, Close):
                    CLOSES.labels(str(action.code)).inc()
                    close_in_background(self.ws, action.code, action.reason,
                                        self._close_timeout)
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def _send(self, step: Deliver) -> None:
        await self.ws.send(step.text)
        _DELIVERED[step.path].inc()
        self._tracer.mark(event_id_of(step.body), "delivered", path=step.path,
                          notificationId=step.notification_id)
        if step.path == "live" and step.created_s is not None:
            DELIVERY_SECONDS.observe(time.time() - step.created_s)

