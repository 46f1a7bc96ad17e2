"""What one WebSocket connection may cost the gateway, whatever its client does.

A client that never reads makes every frame the gateway writes to it wait in the process:
pongs to its pings, ERROR frames, notifications, the close frame itself. ``websockets`` answers
a ping from inside ``data_received`` without backpressure, and its ``close()`` and keepalive
wait on a drain that never ends for such a client. :class:`GuardedConnection` adds what is
missing, per connection, by asking a pure :class:`~ws_gateway.output_budget.OutputBudget`:

* **The client's frames are not read while output is over ``WRITE_BUFFER_BYTES``**: the handler
  waits on :meth:`GuardedConnection.output_ready` before each one, so at most ``max_queue``
  (4) frames wait in websockets, which then stops reading the socket (its public
  ``max_queue`` flow control): the rest stays in the client's own socket buffers.
* **A write stall is cut off.** Output that stays over the limit for ``WRITE_STALL_SECONDS``
  aborts the transport (a TCP reset, no close handshake, since that would wait on the same
  buffer). So does output over ``HARD_LIMIT_FACTOR`` times the limit at any moment.
* **A ping flood is cut off.** More than ``PING_BURST`` pings at once, or more than
  ``PINGS_PER_SECOND`` on average, abort the transport (a client's keepalive pings once
  every few seconds); and the socket is read :data:`READ_BYTES` at a time, so one client's
  burst of frames costs the event loop little before the next client's turn.
* :func:`close_within` closes with a code, and aborts when the close cannot finish in time.

Only public API is used, but for one hook: websockets has no public way to see a ping as it
arrives, so :meth:`GuardedConnection.process_event` (a method of its ``Connection`` that it
documents as private) is extended for the ping budget, and nothing else.

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
from ws_gateway.output_budget import HARD_LIMIT_FACTOR, PING_BURST, PINGS_PER_SECOND, OutputBudget

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

READ_BYTES = 16_384
"""Bytes read from a client's socket at a time (asyncio reads up to 256 KiB)."""
# asyncio reads into the buffer a BufferedProtocol lends it, then calls buffer_updated(), all
# in one callback: one buffer serves every connection of the process (none idle holds one).
_READ_VIEW = memoryview(bytearray(READ_BYTES))


class GuardedConnection(ServerConnection, asyncio.BufferedProtocol):
    """A server connection whose output, and so its memory, is bounded.

    Made by ``serve(create_connection=...)`` through :meth:`factory`; the limits are class
    attributes of the subclass it returns, so each gateway keeps its own.
    """

    write_buffer_bytes: int = 65_536
    write_stall_seconds: float = 10.0

    @classmethod
    def factory(cls, write_buffer_bytes: int, write_stall_seconds: float) -> type[ServerConnection]:
        return type("GatewayConnection", (cls,), {
            "write_buffer_bytes": write_buffer_bytes,
            "write_stall_seconds": write_stall_seconds,
        })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = OutputBudget(self.write_buffer_bytes, self.write_stall_seconds)
        self._stall: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None  # while output is over the limit

    # --- reading, READ_BYTES at a time (asyncio.BufferedProtocol) --------------------------
    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_VIEW

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_READ_VIEW[:nbytes]))

    async def output_ready(self) -> None:
        """Returns once output is under the write limit (at once if it is, or if it is over)."""
        drained = self._drained
        if drained is not None:
            await asyncio.shield(drained)

    # --- output over the limit: stop reading frames, and cut off a stall -------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        deadline = self.budget.output_over_limit(self.loop.time())
        if self._drained is None:
            self._drained = self.loop.create_future()
        if self._stall is None:
            self._stall = self.loop.call_at(deadline, self._check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()
        self.budget.output_drained()
        self._cancel_stall()
        self._release_reader()

    def _check_stall(self) -> None:
        self._stall = None
        deadline = self.budget.stall_deadline
        if self.budget.stalled(self.loop.time()):
            self._abort("stalled")
        elif deadline is not None:  # asyncio may call back a clock tick early
            self._stall = self.loop.call_at(deadline + 0.001, self._check_stall)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may write pongs and close frames, unthrottled
        if self.budget.over_limit(self.transport.get_write_buffer_size()):
            self._abort("over_limit")

    def process_event(self, event: Event) -> None:
        # The one use of websockets' internals: it has no public hook for a received ping.
        if isinstance(event, Frame) and event.opcode is Opcode.PING \
                and not self.budget.ping_allowed(self.loop.time()):
            self._abort("ping_flood")
            return
        super().process_event(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        self._release_reader()
        super().connection_lost(exc)

    def _release_reader(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _cancel_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _abort(self, reason: str) -> None:
        self._cancel_stall()
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
