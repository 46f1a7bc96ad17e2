"""What one WebSocket connection may cost the gateway, whatever its client does.

A client that never reads makes every frame the gateway writes to it wait in the process:
pongs to its pings, ERROR frames, notifications, the close frame itself. ``websockets`` answers
a ping from inside ``data_received`` without backpressure, and its ``close()`` and keepalive
wait on a drain that never ends for such a client. :class:`GuardedConnection` adds what is
missing, per connection:

* **Reading stops while output is over ``WRITE_BUFFER_BYTES``** (TCP backpressure): the
  client's pings stay in its own socket buffers, not in the gateway.
* **A write stall is cut off.** Output that stays over the limit for ``WRITE_STALL_SECONDS``
  aborts the transport (a TCP reset, no close handshake, since that would wait on the same
  buffer). So does output over :data:`HARD_LIMIT_FACTOR` times the limit at any moment.
* **A ping flood is cut off.** More than :data:`PING_BURST` pings at once, or more than
  :data:`PINGS_PER_SECOND` on average, abort the transport (a client's keepalive pings once
  every few seconds); and the socket is read :data:`READ_BYTES` at a time, so one client's
  burst of frames costs the event loop little before the next client's turn.
* :func:`close_within` closes with a code, and aborts when the close cannot finish in time.

:class:`Admission` counts connections (per process, unauthenticated, per client address) so
the handler can refuse one over a limit with close 4029 before it costs anything more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from typing import Any, Generic, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

from common.logs import get_logger
from ws_gateway.metrics import ABORTS

__all__ = [
    "HARD_LIMIT_FACTOR",
    "PINGS_PER_SECOND",
    "PING_BURST",
    "READ_BYTES",
    "Admission",
    "GuardedConnection",
    "close_in_background",
    "close_within",
    "peer_host",
]

log = get_logger(__name__)

C = TypeVar("C")

HARD_LIMIT_FACTOR = 16
"""Output over this many times ``WRITE_BUFFER_BYTES`` aborts the connection at once."""
PINGS_PER_SECOND = 5.0
PING_BURST = 50
_QUEUE_FULL, _OUTPUT_FULL = 1, 2  # why reading is paused
READ_BYTES = 16_384
"""Bytes read from a client's socket at a time (asyncio reads up to 256 KiB)."""


class GuardedConnection(ServerConnection):
    """A server connection whose output, and so its memory, is bounded.

    Made by ``serve(create_connection=...)`` through :meth:`factory`; the limits are class
    attributes of the subclass it returns, so each gateway keeps its own.
    """

    write_stall_seconds: float = 10.0
    hard_limit_bytes: int = 2**20

    @classmethod
    def factory(cls, write_buffer_bytes: int, write_stall_seconds: float) -> type[ServerConnection]:
        return type("GatewayConnection", (cls,), {
            "write_stall_seconds": write_stall_seconds,
            "hard_limit_bytes": write_buffer_bytes * HARD_LIMIT_FACTOR,
        })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_pauses = 0  # bits: _QUEUE_FULL, _OUTPUT_FULL (an int: no set per connection)
        self._stall: asyncio.TimerHandle | None = None
        self._ping_tokens = float(PING_BURST)
        self._ping_time = 0.0

    # --- reading stops while the queue of received frames or the output is full ----------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if isinstance(getattr(transport, "max_size", None), int):  # asyncio's selector loop
            transport.max_size = READ_BYTES  # type: ignore[attr-defined]
        # websockets pauses reading when too many received frames wait for the handler and
        # resumes when they are read; that must not resume a pause made for the output.
        self.recv_messages.pause = lambda: self._pause_reading(_QUEUE_FULL)
        self.recv_messages.resume = lambda: self._resume_reading(_QUEUE_FULL)

    def _pause_reading(self, why: int) -> None:
        if not self._read_pauses:
            self.transport.pause_reading()
        self._read_pauses |= why

    def _resume_reading(self, why: int) -> None:
        self._read_pauses &= ~why
        if not self._read_pauses and not self.transport.is_closing():
            self.transport.resume_reading()

    # --- output over the limit: stop reading, and cut off a stall --------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        self._pause_reading(_OUTPUT_FULL)
        if self._stall is None:
            self._stall = self.loop.call_later(self.write_stall_seconds, self._abort, "stalled")

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_stall()
        self._resume_reading(_OUTPUT_FULL)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may write pongs and close frames, unthrottled
        if self.transport.get_write_buffer_size() > self.hard_limit_bytes:
            self._abort("over_limit")

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING and not self._ping_allowed():
            self._abort("ping_flood")
            return
        super().process_event(event)

    def _ping_allowed(self) -> bool:
        now = self.loop.time()
        elapsed, self._ping_time = now - self._ping_time, now
        self._ping_tokens = min(PING_BURST, self._ping_tokens + elapsed * PINGS_PER_SECOND)
        if self._ping_tokens < 1:
            return False
        self._ping_tokens -= 1
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        super().connection_lost(exc)

    def _cancel_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _abort(self, reason: str) -> None:
        self._stall = None
        if not self.transport.is_closing():
            ABORTS.labels(reason).inc()
            log.warning("connection aborted", reason=reason,
                        buffered=self.transport.get_write_buffer_size())
            self.transport.abort()


async def close_within(ws: ServerConnection, code: int, reason: str, seconds: float) -> None:
    """Close with ``code``; abort the transport if the close has not finished in ``seconds``
    seconds (a client that does not read never lets the close frame out)."""
    try:
        async with asyncio.timeout(seconds):
            await ws.close(code, reason)
    except TimeoutError:
        ABORTS.labels("close_timeout").inc()
        ws.transport.abort()


_CLOSING: set[asyncio.Task[None]] = set()  # closes in flight, kept from the GC


def close_in_background(ws: ServerConnection, code: int, reason: str, seconds: float) -> None:
    """:func:`close_within` in a task of its own, for callers that must not wait on it."""
    task = asyncio.get_running_loop().create_task(close_within(ws, code, reason, seconds))
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


def peer_host(ws: ServerConnection) -> str:
    """The client's address without its port ('' when the socket no longer says)."""
    with contextlib.suppress(Exception):
        address = ws.remote_address
        if isinstance(address, tuple) and address:
            return str(address[0])
    return ""


class Admission(Generic[C]):
    """Counts of open connections, and whether one more may stay (pure; no I/O).

    ``0`` for a limit means no limit. Over ``max_connections`` or ``max_per_address`` the new
    connection is refused. Over ``max_unauthenticated`` the *oldest* connection still waiting
    for AUTH is evicted instead, so a flood of connections that never AUTH cannot keep a user
    who AUTHs at once from getting in.
    """

    def __init__(self, max_connections: int, max_unauthenticated: int,
                 max_per_address: int = 0) -> None:
        self.max_connections = max_connections
        self.max_unauthenticated = max_unauthenticated
        self.max_per_address = max_per_address
        self.total = 0
        self.waiting: OrderedDict[C, None] = OrderedDict()  # unauthenticated, oldest first
        self.per_address: Counter[str] = Counter()

    def admit(self, connection: C, address: str) -> tuple[str | None, C | None]:
        """``(why it is refused, None)`` or ``(None, a connection to evict or None)``."""
        if self.max_connections and self.total >= self.max_connections:
            return "gateway full: too many connections", None
        if self.max_per_address and self.per_address[address] >= self.max_per_address:
            return "too many connections from this address", None
        evict = None
        if self.max_unauthenticated and len(self.waiting) >= self.max_unauthenticated:
            evict, _ = self.waiting.popitem(last=False)
        self.total += 1
        self.waiting[connection] = None
        self.per_address[address] += 1
        return None, evict

    def authenticated(self, connection: C) -> bool:
        """False if it was evicted meanwhile (it must not go on)."""
        return self.waiting.pop(connection, False) is None

    def release(self, connection: C, address: str) -> None:
        self.total -= 1
        self.waiting.pop(connection, None)
        self.per_address[address] -= 1
        if self.per_address[address] <= 0:
            del self.per_address[address]
