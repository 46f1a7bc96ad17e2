"""One connection's protocol as a state machine without I/O: events in, actions out.

Like websockets' own ``protocol.py``, this holds every rule of the gateway's WebSocket
protocol and does no I/O: no asyncio, no socket, no Redis, no clock of its own (times are
passed in). :mod:`ws_gateway.handler` and :mod:`ws_gateway.session` feed it what happened
and carry out what it returns, so the rules are tested without a socket
(tests/unit/test_session_core.py) and live here only.

The life of a connection (the README's "WebSocket protocol")::

    AWAIT_AUTH --AUTH frame--> VERIFYING --identity--> JOINING --open(pending)--> OPEN
        |                          |                                               |
        +-- not AUTH: 4001         +-- bad token: 4003      too many bad frames: 1008,
        +-- deadline: 4002                                  too slow a reader: 1013 --> CLOSED

In ``OPEN``: replay everything pending, then live notifications in the order they came; an id
sent once (replayed or live) is not sent again while it is among the last
:data:`SENT_MEMORY` sent, so a notification published during the replay is seen once —
unless it comes with a higher ``version`` (a digest's update, :mod:`common.buffer.digest`):
then it goes as ``NOTIFICATION_UPDATE``, and an older or equal version after it is skipped.
The first time an id goes on a connection it is a ``NOTIFICATION``, whatever its version (a
reconnecting client gets the latest body as a normal notification). At most
``queue_size`` notifications wait for a slow reader; one more closes with 1013 (nothing is lost:
every unacked notification is pending in Redis and is replayed on reconnect).

Inbox states (:mod:`common.inbox`): a ``MARK`` / ``MARK_ALL`` frame asks the I/O layer to mark
(:class:`ApplyMark`) and is answered ``MARK_OK`` (or ``ERROR TRY_AGAIN`` naming its ids). Every
``INBOX_STATE`` of the user (from any connection, any gateway, or the read API, through the
user's live channel) waits in the same backlog as the live notifications, in the order it came,
and counts against ``queue_size`` like them.

Memory: an idle ``OPEN`` session holds no backlog (made on the first notification to send,
dropped once it is sent) and no sent-id memory until the first notification is sent.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from enum import Enum

from ws_gateway import protocol
from ws_gateway.session_actions import (
    REPLAY,
    START_WRITER,
    Action,
    ApplyMark,
    Close,
    Deliver,
    FlushAck,
    Replay,
    Send,
    StartWriter,
    Verify,
)

__all__ = [
    "REPLAY",
    "SENT_MEMORY",
    "Action",
    "ApplyMark",
    "Close",
    "Deliver",
    "FlushAck",
    "Limits",
    "Replay",
    "Send",
    "SessionCore",
    "StartWriter",
    "State",
    "Verify",
]

SENT_MEMORY = 10_000
"""Ids of the notifications last sent on a connection, remembered to skip them once more."""


class State(Enum):
    AWAIT_AUTH = "await_auth"
    VERIFYING = "verifying"
    JOINING = "joining"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings the protocol obeys, named as in the gateway's settings."""

    auth_timeout_seconds: float = 10.0
    max_frame_bytes: int = 65_536
    max_bad_frames: int = 10
    max_ack_ids: int = 500
    send_queue_size: int = 1024


# A backlog entry: a live notification (id, JSON, createdAt in epoch seconds or None, version),
# REPLAY, or a frame to send as it is (INBOX_STATE).
_Entry = tuple[str, str, float | None, int] | Replay | Send


class SessionCore:
    """The protocol of one connection. Every method returns what to do next, in order."""

    __slots__ = ("_backlog", "_bad", "_sent", "_started", "_writing", "auth_deadline",
                 "limits", "overloaded", "state")

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self.state = State.AWAIT_AUTH
        self.auth_deadline = now + limits.auth_timeout_seconds
        self.overloaded = False
        self._bad = 0
        self._backlog: deque[_Entry] | None = None  # made on the first notification to send
        self._sent: OrderedDict[str, int] | None = None  # id -> version sent; made on the first
        self._started = False  # AUTH_OK is out: notifications may follow
        self._writing = False  # a writer is between StartWriter and next_step() -> None

    # --- AUTH ----------------------------------------------------------------------------
    def tick(self, now: float) -> list[Action]:
        """Time has passed: no AUTH frame by the deadline is ``ERROR AUTH_TIMEOUT``, 4002."""
        if self.state is State.AWAIT_AUTH and now >= self.auth_deadline:
            return self._refuse(protocol.CLOSE_AUTH_TIMEOUT, "AUTH_TIMEOUT",
                                "no AUTH frame in time")
        return []

    def authenticated(self) -> list[Action]:
        """The AUTH frame named someone: join the live stream, then call :meth:`open`."""
        if self.state is State.VERIFYING:
            self.state = State.JOINING
        return []

    def auth_failed(self, code: str, message: str) -> list[Action]:
        """The token is invalid, expired, forged or missing: ``ERROR <code>``, 4003."""
        if self.state is not State.VERIFYING:
            return []
        return self._refuse(protocol.CLOSE_AUTH_FAILED, code, message)

    def open(self, user_id: str, tenant_id: str, pending: int) -> list[Action]:
        """Subscribed and counted: ``AUTH_OK``. Call :meth:`start` once it is sent."""
        if self.state is not State.JOINING:
            return []
        self.state = State.OPEN
        return [Send(protocol.auth_ok(user_id, tenant_id, pending))]

    def start(self) -> list[Action]:
        """After ``AUTH_OK``: replay everything pending, then the live notifications, including
        those that came before this (they wait behind the replay)."""
        if self.state is not State.OPEN or self._started:
            return []
        self._started = True
        self._queue().appendleft(REPLAY)
        return self._wake()

    # --- client frames -------------------------------------------------------------------
    def receive(self, data: str | bytes) -> list[Action]:
        """A message from the client (text, or bytes for a binary frame)."""
        if self.state is State.CLOSED:
            return []
        size = len(data)
        if not isinstance(data, bytes) and size * 4 > self.limits.max_frame_bytes:
            size = len(data.encode())  # UTF-8 is at most 4 bytes a character
        if size > self.limits.max_frame_bytes:
            # websockets enforces the same limit (max_size) before the message gets here.
            self.state = State.CLOSED
            return [Close(protocol.CLOSE_TOO_BIG,
                          f"frame of {size} bytes exceeds {self.limits.max_frame_bytes}")]
        try:
            frame = protocol.parse(data, self.limits.max_ack_ids)
        except protocol.FrameError as exc:
            if self.state is State.AWAIT_AUTH:
                return self._refuse(protocol.CLOSE_AUTH_REQUIRED, "AUTH_REQUIRED",
                                    f"send AUTH first ({exc})")
            return self._bad_frame(exc.code, str(exc))
        if self.state is State.AWAIT_AUTH:
            if not isinstance(frame, protocol.Auth):
                return self._refuse(protocol.CLOSE_AUTH_REQUIRED, "AUTH_REQUIRED",
                                    "send AUTH first")
            self.state = State.VERIFYING
            return [Verify(frame.fields)]
        if isinstance(frame, protocol.Ack):
            return [FlushAck(frame.ids)]
        if isinstance(frame, protocol.MarkFrame):
            return [ApplyMark(frame.mark, frame.ids)]
        return [Send(protocol.error("ALREADY_AUTHENTICATED",
                                    "this connection is authenticated already"))]

    def ack_done(self, acked: list[str], unknown: list[str]) -> list[Action]:
        """The ACK was recorded: ``ACK_OK`` with what was acked and what was not pending."""
        if self.state is State.CLOSED:
            return []
        return [Send(protocol.ack_ok(acked, unknown))]

    def ack_failed(self, ids: tuple[str, ...]) -> list[Action]:
        """The ACK was not recorded (nothing was removed): ``ERROR TRY_AGAIN`` naming its ids."""
        if self.state is State.CLOSED:
            return []
        return [Send(protocol.error("TRY_AGAIN", "the ACK was not recorded; send it again",
                                    ids))]

    def mark_done(self, text: str) -> list[Action]:
        """The mark was made: its ``MARK_OK`` (:func:`protocol.mark_ok`)."""
        if self.state is State.CLOSED:
            return []
        return [Send(text)]

    def mark_failed(self, mark: ApplyMark) -> list[Action]:
        """The mark was not made (or not all of it; a repeat is safe): ``ERROR TRY_AGAIN``
        with its ``mark`` and its ids (none for a ``MARK_ALL``)."""
        if self.state is State.CLOSED:
            return []
        return [Send(protocol.error("TRY_AGAIN", "the mark was not recorded; send it again",
                                    mark.ids, mark.mark))]

    # --- notifications -------------------------------------------------------------------
    def inbox(self, text: str) -> list[Action]:
        """An ``INBOX_STATE`` frame for this user: sent in turn with the live notifications
        (it may come before :meth:`start`: it waits for it)."""
        if self.state is State.CLOSED:
            return []
        backlog = self._queue()
        if len(backlog) >= self.limits.send_queue_size:
            if self.overloaded:
                return []
            self.overloaded = True
            return [Close(protocol.CLOSE_OVERLOADED, "too slow; reconnect for pending")]
        backlog.append(Send(text))
        return self._wake()

    def live(self, notification_id: str, body: str,
             created_s: float | None = None, version: int = 1) -> list[Action]:
        """A live notification for this user (it may come before :meth:`start`); ``version``
        > 1: a digest's update."""
        if self.state is State.CLOSED:
            return []
        backlog = self._queue()
        if len(backlog) >= self.limits.send_queue_size:
            if self.overloaded:
                return []
            self.overloaded = True
            return [Close(protocol.CLOSE_OVERLOADED, "too slow; reconnect for pending")]
        backlog.append((notification_id, body, created_s, version))
        return self._wake()

    def resync(self) -> list[Action]:
        """The live stream had a gap (pub/sub reconnected): replay pending again."""
        if self.state is State.CLOSED:
            return []
        backlog = self._queue()
        if len(backlog) >= self.limits.send_queue_size:
            return []
        backlog.append(REPLAY)
        return self._wake()

    def next_step(self) -> Deliver | Replay | Send | None:
        """The writer's next step; ``None`` when there is nothing left (the writer ends, and
        the next notification asks for a new one)."""
        backlog = self._backlog
        while backlog and self.state is not State.CLOSED:
            entry = backlog.popleft()
            if isinstance(entry, Replay | Send):
                return entry
            notification_id, body, created_s, version = entry
            sent = self._mark_sent(notification_id, version)
            if sent is not None:
                return Deliver(notification_id, body, "live", created_s, update=sent)
        self._backlog = None
        self._writing = False
        return None

    def replayed(self, batch: list[tuple[str, str]]) -> list[Deliver]:
        """What the replay found, oldest first: those not sent yet, to send in this order."""
        if self.state is State.CLOSED:
            return []
        out: list[Deliver] = []
        for notification_id, body in batch:
            sent = self._mark_sent(notification_id, protocol.version_of(body))
            if sent is not None:
                out.append(Deliver(notification_id, body, "replay", update=sent))
        return out

    # --- the end ---------------------------------------------------------------------------
    def failed(self) -> list[Action]:
        """Sending failed for another reason than the connection closing: 1011."""
        if self.state is State.CLOSED:
            return []
        self.state = State.CLOSED
        self._backlog = None
        return [Close(1011, "internal error; reconnect")]

    def closed(self) -> None:
        """The connection is over: nothing more is sent."""
        self.state = State.CLOSED
        self._backlog = None

    # --- helpers ---------------------------------------------------------------------------
    def _refuse(self, code: int, error: str, message: str) -> list[Action]:
        self.state = State.CLOSED
        return [Send(protocol.error(error, message)), Close(code, message[:120], error)]

    def _bad_frame(self, code: str, message: str) -> list[Action]:
        self._bad += 1
        actions: list[Action] = [Send(protocol.error(code, message))]
        if self._bad > self.limits.max_bad_frames:
            self.state = State.CLOSED
            actions.append(Close(protocol.CLOSE_POLICY, "too many bad frames"))
        return actions

    def _queue(self) -> deque[_Entry]:
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        return backlog

    def _wake(self) -> list[Action]:
        if self._writing or not self._started or self.state is State.CLOSED:
            return []
        self._writing = True
        return [START_WRITER]

    def _mark_sent(self, notification_id: str, version: int = 1) -> bool | None:
        """``None`` if this version (or a newer one) was sent already; else remembers it
        (forgetting the oldest) and says whether it is an update of one sent before."""
        sent = self._sent
        if sent is None:
            sent = self._sent = OrderedDict()
        else:
            before = sent.get(notification_id)
            if before is not None:
                if before >= version:
                    return None
                sent[notification_id] = version
                sent.move_to_end(notification_id)
                return True
        sent[notification_id] = version
        if len(sent) > SENT_MEMORY:
            sent.popitem(last=False)
        return False
