"""What one connection's output and pings may cost, as arithmetic without I/O.

:class:`~ws_gateway.guard.GuardedConnection` tells an :class:`OutputBudget` what its transport
reports (output over or back under ``WRITE_BUFFER_BYTES``, bytes buffered, a ping received,
the time) and carries out the answer: stop reading while output is over the limit, abort the
transport when the budget is spent. Times are passed in (the event loop's clock, or a test's).
"""

from __future__ import annotations

__all__ = ["HARD_LIMIT_FACTOR", "PINGS_PER_SECOND", "PING_BURST", "OutputBudget"]

HARD_LIMIT_FACTOR = 16
"""Output over this many times ``WRITE_BUFFER_BYTES`` aborts the connection at once."""
PINGS_PER_SECOND = 5.0
PING_BURST = 50


class OutputBudget:
    """Per connection: is output stalled, over the hard limit, are pings over budget?

    * Output over the write limit starts a stall clock: still over it ``stall_seconds`` later,
      the connection is aborted (``stalled``). Back under the limit stops the clock.
    * Output over ``hard_limit_bytes`` at any moment aborts it (``over_limit``).
    * Pings: a token bucket of :data:`PING_BURST`, refilled at :data:`PINGS_PER_SECOND`; a ping
      without a token aborts it (``ping_flood``).
    """

    __slots__ = ("_ping_time", "_ping_tokens", "hard_limit_bytes", "stall_deadline",
                 "stall_seconds")

    def __init__(self, write_buffer_bytes: int, stall_seconds: float) -> None:
        self.hard_limit_bytes = write_buffer_bytes * HARD_LIMIT_FACTOR
        self.stall_seconds = stall_seconds
        self.stall_deadline: float | None = None  # set while output is over the limit
        self._ping_tokens = float(PING_BURST)
        self._ping_time: float | None = None

    @property
    def output_full(self) -> bool:
        """Output is over the write limit: stop reading the client's frames."""
        return self.stall_deadline is not None

    def output_over_limit(self, now: float) -> float:
        """Output went over the write limit: the time at which :meth:`stalled` will say so."""
        if self.stall_deadline is None:
            self.stall_deadline = now + self.stall_seconds
        return self.stall_deadline

    def output_drained(self) -> None:
        """Output is back under the limit: reading may go on, the stall clock stops."""
        self.stall_deadline = None

    def stalled(self, now: float) -> bool:
        """Output has stayed over the limit for ``stall_seconds``: abort (``stalled``)."""
        return self.stall_deadline is not None and now >= self.stall_deadline

    def over_limit(self, buffered_bytes: int) -> bool:
        """Output is over the hard limit: abort at once (``over_limit``)."""
        return buffered_bytes > self.hard_limit_bytes

    def ping_allowed(self, now: float) -> bool:
        """A ping came; False means the budget is spent: abort (``ping_flood``)."""
        if self._ping_time is not None:
            refill = (now - self._ping_time) * PINGS_PER_SECOND
            self._ping_tokens = min(PING_BURST, self._ping_tokens + refill)
        self._ping_time = now
        if self._ping_tokens < 1:
            return False
        self._ping_tokens -= 1
        return True
