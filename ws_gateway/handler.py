"""The life of one WebSocket: AUTH within the timeout, then a session until it closes.

What each bad input gets (see the README's close codes):

* no AUTH within ``AUTH_TIMEOUT_SECONDS`` → ``ERROR AUTH_TIMEOUT``, close 4002;
* a first frame that is not AUTH → ``ERROR AUTH_REQUIRED``, close 4001;
* a token that is invalid, expired or forged → ``ERROR AUTH_*``, close 4003;
* after AUTH, a frame that is not JSON, not an object, of unknown type, binary, or a bad ACK →
  an ``ERROR`` frame, nothing changed; more than ``MAX_BAD_FRAMES`` of them → close 1008;
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

from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from common.auth import AuthError, Identity, Verifier
from common.buffer.pending import PendingStore
from common.logs import get_logger
from common.telemetry import Presence, Tracer
from ws_gateway import protocol
from ws_gateway.ack_batcher import AckBatcher
from ws_gateway.guard import Admission, close_in_background, close_within, peer_host
from ws_gateway.hub import Hub
from ws_gateway.metrics import AUTH_FAILURES, CLOSES, CONNECTIONS, UNAUTHENTICATED
from ws_gateway.session import Session
from ws_gateway.settings import GatewaySettings

__all__ = ["Handler"]

log = get_logger(__name__)

class Handler:
    def __init__(
        self, settings: GatewaySettings, verifier: Verifier, hub: Hub, pending: PendingStore,
        acks: AckBatcher, tracer: Tracer | None = None, presence: Presence | None = None,
    ) -> None:
        self._settings = settings
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._presence = presence if presence is not None else Presence()
        self._verifier = verifier
        self._hub = hub
        self._pending = pending
        self._acks = acks
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
                identity = await self._authenticate(ws)
                if identity is not None and self.admission.authenticated(ws):
                    UNAUTHENTICATED.set(len(self.admission.waiting))
                    await self._serve(ws, identity)
        finally:
            self.admission.release(ws, address)
            UNAUTHENTICATED.set(len(self.admission.waiting))

    async def _refuse(self, ws: ServerConnection, code: int, error: str, message: str) -> None:
        AUTH_FAILURES.labels(error).inc()
        CLOSES.labels(str(code)).inc()
        try:
            async with asyncio.timeout(self._settings.close_timeout_seconds):
                await ws.send(protocol.error(error, message))
        except TimeoutError:  # it does not read: the close below aborts it
            pass
        await close_within(ws, code, message[:120], self._settings.close_timeout_seconds)

    async def _authenticate(self, ws: ServerConnection) -> Identity | None:
        try:
            first = await asyncio.wait_for(ws.recv(), self._settings.auth_timeout_seconds)
        except TimeoutError:
            await self._refuse(ws, protocol.CLOSE_AUTH_TIMEOUT, "AUTH_TIMEOUT",
                               "no AUTH frame in time")
            return None
        try:
            frame = protocol.parse(first, self._settings.max_ack_ids)
        except protocol.FrameError as exc:
            await self._refuse(ws, protocol.CLOSE_AUTH_REQUIRED, "AUTH_REQUIRED",
                               f"send AUTH first ({exc})")
            return None
        if not isinstance(frame, protocol.Auth):
            await self._refuse(ws, protocol.CLOSE_AUTH_REQUIRED, "AUTH_REQUIRED",
                               "send AUTH first")
            return None
        try:
            return self._verifier.verify(frame.fields)
        except AuthError as exc:
            await self._refuse(ws, protocol.CLOSE_AUTH_FAILED, exc.code, str(exc))
            return None

    async def _serve(self, ws: ServerConnection, identity: Identity) -> None:
        session = Session(ws, identity, self._pending, self._acks,
                          self._settings.send_queue_size, self._settings.close_timeout_seconds,
                          self._tracer)
        channel = self._hub_channel(identity)
        await self._hub.join(channel, session)
        CONNECTIONS.inc()
        self._presence.join(identity.tenant_id, identity.user_id)
        try:
            count = await self._pending.count(identity.tenant_id, identity.user_id)
            await ws.send(protocol.auth_ok(identity.user_id, identity.tenant_id, count))
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
        bad = 0
        async for data in ws:
            try:
                frame = protocol.parse(data, self._settings.max_ack_ids)
            except protocol.FrameError as exc:
                bad += 1
                await ws.send(protocol.error(exc.code, str(exc)))
                if bad > self._settings.max_bad_frames:
                    CLOSES.labels(str(protocol.CLOSE_POLICY)).inc()
                    await close_within(ws, protocol.CLOSE_POLICY, "too many bad frames",
                                       self._settings.close_timeout_seconds)
                    return
                continue
            if isinstance(frame, protocol.Ack):
                try:
                    await session.ack(frame.ids)
                except RedisError as exc:
                    # Nothing was removed unless it was also recorded; the client resends.
                    log.warning("ack not recorded", error=repr(exc)[:200])
                    await ws.send(protocol.error("TRY_AGAIN",
                                                 "the ACK was not recorded; send it again",
                                                 frame.ids))
            else:
                await ws.send(protocol.error("ALREADY_AUTHENTICATED",
                                             "this connection is authenticated already"))

    def _hub_channel(self, identity: Identity) -> str:
        return self._settings.names.keys.live_channel(identity.tenant_id, identity.user_id)
