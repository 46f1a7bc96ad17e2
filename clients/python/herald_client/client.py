"""The WebSocket client: AUTH, reconnects with backoff, each notification once, batched ACKs.

::

    async with HeraldClient("ws://127.0.0.1:8001/ws", get_token=fetch_token) as client:
        async for notification in client:
            show(notification)
            await client.ack(notification["id"])

The client runs one connection at a time in a task of its own and keeps it up until
:meth:`close`: after a drop it reconnects with exponential backoff and full jitter
(:class:`~herald_client.policy.Backoff`), after a refused token (4003) it asks ``get_token``
for a new one, and after a close that says the client itself is wrong (1007, 1008, 1009, 4001)
it stops and the iterator raises :class:`HeraldError`. The gateway replays every unacked
notification after a reconnect; the :class:`~herald_client.ledger.Ledger` makes sure the app
sees each one once and that every ACK reaches the gateway, resent after ``ERROR TRY_AGAIN``
and on the next connection until ``ACK_OK`` confirms it.

Digests: a newer ``version`` of a notification already yielded (``NOTIFICATION_UPDATE``, or
the latest body replayed after a reconnect) is yielded again — the same ``id``, to replace in
place ("alice and 11 others liked your post"); an older or equal version never is.

Inbox states: every mark of the user's (read API, or any connection) comes as
``INBOX_STATE``; one whose ``seq`` is above the last kept (:class:`~herald_client.inbox.InboxSeq`)
becomes :attr:`HeraldClient.inbox` ``{seq, mark, notificationIds, all, at, unseen, unread}``
and is passed to ``on_inbox``. Marks are made over the read API
(:meth:`herald_client.reads.ReadApi.mark`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from herald_client.inbox import InboxSeq
from herald_client.ledger import Ledger, Verdict
from herald_client.policy import Action, Backoff, after_close

__all__ = ["HeraldClient", "HeraldError"]

Notification = dict[str, Any]


class HeraldError(Exception):
    """The client stopped for good: ``code`` is the close code (or None), ``message`` why."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code


class HeraldClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        get_token: Callable[[], Awaitable[str]] | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        auto_ack: bool = False,
        ack_delay: float = 0.005,
        ack_batch: int = 100,
        backoff: Backoff | None = None,
        open_timeout: float = 10.0,
        queue_size: int = 10_000,
        on_state: Callable[[str], None] | None = None,
        on_inbox: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """``token`` (a JWT), ``get_token`` (called before every connection), or ``user_id``
        (only for a gateway in ``AUTH_MODE=trusted``). ``auto_ack`` ACKs each notification as
        it is handed to the app; otherwise the app calls :meth:`ack`. ``on_inbox`` gets each
        inbox state newer than the last (the badge: its ``unseen``)."""
        if token is None and get_token is None and user_id is None:
            raise ValueError("give token, get_token, or user_id (trusted mode)")
        self.url = url
        self._token, self._get_token = token, get_token
        self._trusted = (user_id, tenant_id)
        self.auto_ack = auto_ack
        self._ack_delay, self._ack_batch = ack_delay, ack_batch
        self._backoff = backoff or Backoff()
        self._open_timeout = open_timeout
        self._on_state = on_state
        self._on_inbox = on_inbox
        self._inbox = InboxSeq()
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(queue_size)
        self.ledger = Ledger()
        self.state = "idle"
        self.connects = 0  # connections that authenticated
        self.deliveries = 0  # NOTIFICATION(_UPDATE) frames received, replays included
        self.updates = 0  # newer versions yielded again (digests)
        self.ack_retries = 0  # ERROR TRY_AGAIN answers
        self.closes: Counter[str] = Counter()  # how connections ended: close code or "none"
        self.pending: int | None = None  # from the last AUTH_OK
        self.error: HeraldError | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._flush: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._opened = asyncio.Event()
        self._ended = asyncio.Event()

    # --- life -------------------------------------------------------------------------------
    def start(self) -> HeraldClient:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def wait_open(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until the first AUTH_OK (or the client stopped: :class:`HeraldError`)."""
        async with asyncio.timeout(timeout):
            while not self._opened.is_set():
                if self.error is not None:
                    raise self.error
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._opened.wait(), 0.05)

    async def close(self) -> None:
        """Send what ACKs are owed (if connected), close, and end the iterator."""
        if self._closing.is_set():
            return
        if self._ws is not None and self.ledger.unsent:
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                await asyncio.wait_for(self._send_acks(self._ws), 2)
        self._closing.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 2)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._flush is not None:
            self._flush.cancel()
        self._set_state("closed")
        self._ended.set()

    async def __aenter__(self) -> HeraldClient:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def drop(self) -> None:
        """Cut the current connection from this side (as a network drop would)."""
        if self._ws is not None:
            self._ws.transport.abort()

    # --- what the app uses ------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[Notification]:
        return self._notifications()

    async def _notifications(self) -> AsyncIterator[Notification]:
        """Each notification once, in arrival order; ends after :meth:`close`, raises
        :class:`HeraldError` once the client stopped for good (what came before first)."""
        while True:
            if not self._queue.empty():
                yield self._queue.get_nowait()
                continue
            if self._ended.is_set():
                if self.error is not None:
                    raise self.error
                return
            getter = asyncio.ensure_future(self._queue.get())
            ender = asyncio.ensure_future(self._ended.wait())
            await asyncio.wait({getter, ender}, return_when=asyncio.FIRST_COMPLETED)
            ender.cancel()
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()

    @property
    def inbox(self) -> dict[str, Any] | None:
        """The newest inbox state received (``None`` before the first)."""
        return self._inbox.state

    async def ack(self, *ids: str) -> None:
        """ACK these notifications; sent within ``ack_delay``, many per frame, and again
        until the gateway confirms them."""
        self.ledger.ack(list(ids))
        self._schedule_flush(self._ack_delay)

    # --- the connection ---------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closing.is_set():
            self._set_state("connecting" if self.connects == 0 else "reconnecting")
            code, reason = await self._connect_once()
            if self._closing.is_set():
                break
            self.closes[str(code) if code is not None else "none"] += 1
            action = after_close(code, self._get_token is not None)
            if action is Action.STOP:
                self.error = HeraldError(code, reason or "the gateway refused this client")
                self._set_state("closed")
                self._ended.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._backoff.next())

    async def _connect_once(self) -> tuple[int | None, str]:
        """One connection until it ends: (close code received or None, reason)."""
        try:
            async with connect(self.url, open_timeout=self._open_timeout, compression=None,
                               close_timeout=2, max_size=2**22) as ws:
                self._ws = ws
                try:
                    await ws.send(await self._auth_frame())
                    async for data in ws:
                        await self._on_frame(ws, orjson.loads(data))
                finally:
                    self._ws = None
        except ConnectionClosed as exc:
            if exc.rcvd is not None:
                return exc.rcvd.code, exc.rcvd.reason
            return None, "connection lost"
        except InvalidURI as exc:
            return 1008, str(exc)
        except (OSError, InvalidHandshake, TimeoutError, orjson.JSONDecodeError) as exc:
            return None, repr(exc)
        if ws.close_code is not None:
            return ws.close_code, ws.close_reason or ""
        return None, "closed"

    async def _auth_frame(self) -> str:
        frame: dict[str, Any] = {"type": "AUTH"}
        if self._get_token is not None:
            frame["token"] = await self._get_token()
        elif self._token is not None:
            frame["token"] = self._token
        else:
            user, tenant = self._trusted
            frame["userId"] = user
            if tenant is not None:
                frame["tenantId"] = tenant
        return orjson.dumps(frame).decode()

    async def _on_frame(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("NOTIFICATION", "NOTIFICATION_UPDATE"):
            self.deliveries += 1
            note = frame["notification"]
            verdict = self.ledger.on_notification(note["id"], _version(note))
            if verdict is Verdict.UPDATE:
                self.updates += 1
            if verdict in (Verdict.DELIVER, Verdict.UPDATE):
                await self._queue.put(note)  # a full queue stops reading: backpressure
                if self.auto_ack:
                    self.ledger.ack([note["id"]])
                    self._schedule_flush(self._ack_delay)
            elif verdict is Verdict.REACK:
                self._schedule_flush(self._ack_delay)
        elif kind == "INBOX_STATE":
            state = {k: v for k, v in frame.items() if k != "type"}
            if self._inbox.accept(state) and self._on_inbox is not None:
                self._on_inbox(state)
        elif kind == "ACK_OK":
            self.ledger.on_ack_ok(frame.get("notificationIds", []), frame.get("unknown", []))
        elif kind == "AUTH_OK":
            self.connects += 1
            self.pending = frame.get("pending")
            self._backoff.reset()
            self.ledger.on_reconnect()
            self._opened.set()
            self._set_state("open")
            self._schedule_flush(0)
        elif kind == "ERROR" and frame.get("code") == "TRY_AGAIN":
            self.ack_retries += 1
            self.ledger.on_try_again(frame.get("notificationIds", []))
            self._schedule_flush(0.2)

    def _schedule_flush(self, delay: float) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        ws = self._ws
        if ws is not None and self.state == "open":
            with contextlib.suppress(ConnectionClosed):
                await self._send_acks(ws)

    async def _send_acks(self, ws: ClientConnection) -> None:
        while batch := self.ledger.take_unsent(self._ack_batch):
            await ws.send(orjson.dumps({"type": "ACK", "notificationIds": batch}).decode())

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                self._on_state(state)


def _version(note: Notification) -> int:
    """A notification's ``version`` (1 when it has none)."""
    version = note.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) \
        and version >= 1 else 1
