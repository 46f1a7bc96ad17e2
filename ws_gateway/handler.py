"""The life of one WebSocket: AUTH within the timeout, then a session until it closes.

What each bad input gets (see the README's close codes):

* no AUTH within ``AUTH_TIMEOUT_SECONDS`` → ``ERROR AUTH_TIMEOUT``, close 4002;
* a first frame that is not AUTH → ``ERROR AUTH_REQUIRED``, close 4001;
* a token that is invalid, expired or forged → ``ERROR AUTH_*``, close 4003;
* after AUTH, a frame that is not JSON, not an object, of unknown type, binary, a bad ACK or
  a bad MARK / MARK_ALL → an ``ERROR`` frame, nothing changed; more than ``MAX_BAD_FRAMES``
  of them → close 1008;
* a frame over ``MAX_FRAME_BYTES`` → close 1009, invalid UTF-8 → close 1007 (both by the
  websockets library, for that connection only; the process and other clients carry on);
* a connection over ``MAX_CONNECTIONS``, ``MAX_UNAUTHENTICATED`` or
  ``MAX_CONNECTIONS_PER_ADDRESS`` → close 4029 at once, before anything else;
* a client that does not read: see :mod:`ws_gateway.guard` (its output is bounded, a stall
  is cut off, and every close here gives up and aborts after ``CLOSE_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from common.auth import AuthError, Identity, Verifier
from common.buffer.pending import PendingStore
from common.telemetry import Presence, Tracer
from ws_gateway import protocol
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.guard import (
    Admission,
    GuardedConnection,
    close_in_background,
    close_within,
    peer_host,
)
from ws_gateway.hub import Hub
from ws_gateway.marks import Marks
from ws_gateway.metrics import AUTH_FAILURES, CLOSES, CONNECTIONS, UNAUTHENTICATED
from ws_gateway.session import Session
from ws_gateway.session_core import (
    Action,
    ApplyMark,
    Close,
    FlushAck,
    Limits,
    Send,
    SessionCore,
    State,
    Verify,
)
from ws_gateway.settings import GatewaySettings

__all__ = ["Handler", "limits_of"]


def limits_of(settings: GatewaySettings) -> Limits:
    return Limits(
        auth_timeout_seconds=settings.auth_timeout_seconds,
        max_frame_bytes=settings.max_frame_bytes,
        max_bad_frames=settings.max_bad_frames,
        max_ack_ids=settings.max_ack_ids,
        send_queue_size=settings.send_queue_size,
    )


class Handler:
    def __init__(
        self, settings: GatewaySettings, verifier: Verifier, hub: Hub, pending: PendingStore,
        acks: AckBatcher, tracer: Tracer | None = None, presence: Presence | None = None,
        marks: Marks | None = None,
    ) -> None:
        self._settings = settings
        self._limits = limits_of(settings)
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._presence = presence if presence is not None else Presence()
        self._verifier = verifier
        self._hub = hub
        self._pending = pending
        self._acks = acks
        self._marks = marks
        self.admission: Admission[ServerConnection] = Admission(
            settings.max_connections, settings.max_unauthenticated,
            settings.max_connections_per_address)

    async def __call__(self, ws: ServerConnection) -> None:
        # The opening handshake is over and nothing reads its headers again: let them go,
        # about 4 KiB of each idle connection (more with a browser's cookies). The request
        # and response objects stay: websockets tells the handshake from frames by them.
        for message in (ws.request, ws.response):
            if message is not None:
                message.headers.clear()
        address = peer_host(ws)
        refused, evicted = self.admission.admit(ws, address)
        if refused is not None:
            CLOSES.labels(str(protocol.CLOSE_TOO_MANY)).inc()
            await close_within(ws, protocol.CLOSE_TOO_MANY, refused,
                               self._settings.close_timeout_seconds)
            return
        if evicted is not None:
            CLOSES.labels(str(protocol.CLOSE_TOO_MANY)).inc()
            close_in_background(evicted, protocol.CLOSE_TOO_MANY,
                                "evicted: too many connections waiting for AUTH",
                                self._settings.close_timeout_seconds)
        UNAUTHENTICATED.set(len(self.admission.waiting))
        try:
            with contextlib.suppress(ConnectionClosed):
                core = SessionCore(self._limits, asyncio.get_running_loop().time())
                identity = await self._authenticate(ws, core)
                if identity is not None and self.admission.authenticated(ws):
                    UNAUTHENTICATED.set(len(self.admission.waiting))
                    await self._serve(ws, core, identity)
        finally:
            self.admission.release(ws, address)
            UNAUTHENTICATED.set(len(self.admission.waiting))

    async def _authenticate(self, ws: ServerConnection, core: SessionCore) -> Identity | None:
        """Feeds the core the first frame (or the deadline) until it names someone or closes."""
        while core.state is State.AWAIT_AUTH:
            try:
                left = core.auth_deadline - asyncio.get_running_loop().time()
                first = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                actions = core.tick(asyncio.get_running_loop().time())
            else:
                actions = core.receive(first)
            for action in actions:
                if isinstance(action, Verify):
                    try:
                        identity = self._verifier.verify(action.fields)
                    except AuthError as exc:
                        await self._carry_out(ws, core.auth_failed(exc.code, str(exc)))
                        return None
                    core.authenticated()
                    return identity
            await self._carry_out(ws, actions)
        return None

    async def _serve(self, ws: ServerConnection, core: SessionCore, identity: Identity) -> None:
        session = Session(ws, identity, core, self._pending, self._acks,
                          self._settings.close_timeout_seconds, self._tracer, self._marks)
        channel = self._settings.names.keys.live_channel(identity.tenant_id, identity.user_id)
        await self._hub.join(channel, session)
        CONNECTIONS.inc()
        self._presence.join(identity.tenant_id, identity.user_id)
        try:
            count = await self._pending.count(identity.tenant_id, identity.user_id)
            await self._carry_out(ws, core.open(identity.user_id, identity.tenant_id, count))
            # The reader runs here, in the connection's own task; the session sends from a
            # task of its own only while it has frames to send (none while idle). A writer
            # that fails closes the connection with 1011, which ends the reader; a reader
            # that ends stops the writer.
            session.start()
            try:
                await self._read(ws, session)
            finally:
                await session.stop()
        finally:
            CONNECTIONS.dec()
            self._presence.leave(identity.tenant_id, identity.user_id)
            await self._hub.leave(channel, session)

    async def _read(self, ws: ServerConnection, session: Session) -> None:
        """Feeds the core the client's frames, one at a time, none while output is over
        ``WRITE_BUFFER_BYTES`` (see :mod:`ws_gateway.guard`)."""
        while True:
            if isinstance(ws, GuardedConnection):
                await ws.output_ready()
            try:
                data = await ws.recv()
            except ConnectionClosedOK:
                return
            actions = session.core.receive(data)
            while actions and isinstance(actions[0], FlushAck | ApplyMark):
                first = actions[0]
                answer = (await session.ack(first.ids) if isinstance(first, FlushAck)
                          else await session.mark(first))
                actions = answer + actions[1:]
            if not await self._carry_out(ws, actions):
                return

    async def _carry_out(self, ws: ServerConnection, actions: list[Action]) -> bool:
        """Sends the frames and makes the close the core asked for; False if it closed. The
        frames before a close are its explanation: a client that does not read them within
        ``CLOSE_TIMEOUT_SECONDS`` does not get them (the close then aborts it)."""
        closing = any(isinstance(action, Close) for action in actions)
        for action in actions:
            if isinstance(action, Send):
                if not closing:
                    await ws.send(action.text)
                    continue
                try:
                    async with asyncio.timeout(self._settings.close_timeout_seconds):
                        await ws.send(action.text)
                except TimeoutError:  # it does not read: the close below aborts it
                    pass
            elif isinstance(action, Close):
                if action.auth_failure is not None:
                    AUTH_FAILURES.labels(action.auth_failure).inc()
                CLOSES.labels(str(action.code)).inc()
                await close_within(ws, action.code, action.reason,
                                   self._settings.close_timeout_seconds)
                return False
        return True
