"""What a :class:`~ws_gateway.session_core.SessionCore` asks its I/O layer to do.

Plain values: the core returns them in the order they are to be carried out, and the I/O
layer (:mod:`ws_gateway.handler`, :mod:`ws_gateway.session`) answers the ones that ask a
question (:class:`Verify`, :class:`FlushAck`, :class:`ApplyMark`, :class:`Replay`) by calling
the core back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.records import Mark
from ws_gateway import protocol

__all__ = ["REPLAY", "START_WRITER", "Action", "ApplyMark", "Close", "Deliver", "FlushAck",
           "Replay", "Send", "StartWriter", "Verify"]


@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame."""

    text: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close with ``code`` and ``reason``; ``auth_failure`` is the ERROR code of a failed AUTH
    (for the metric), ``None`` for any other close. Frames sent just before it are its
    explanation: the I/O layer need not wait long for them."""

    code: int
    reason: str
    auth_failure: str | None = None


@dataclass(frozen=True, slots=True)
class Verify:
    """Check these AUTH fields; answer with :meth:`SessionCore.authenticated` or
    :meth:`SessionCore.auth_failed`."""

    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlushAck:
    """Record this ACK; answer with :meth:`SessionCore.ack_done` or
    :meth:`SessionCore.ack_failed`."""

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApplyMark:
    """Mark these notifications (``ids is None``: all, a high-water mark) through
    :class:`common.inbox.Inbox`; answer with :meth:`SessionCore.mark_done` or
    :meth:`SessionCore.mark_failed`."""

    mark: Mark
    ids: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class StartWriter:
    """Start sending: call :meth:`SessionCore.next_step` until it returns ``None``."""


@dataclass(frozen=True, slots=True)
class Replay:
    """Fetch everything pending for this user; answer with :meth:`SessionCore.replayed`."""


REPLAY = Replay()
START_WRITER = StartWriter()


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send this notification (``path`` is ``live`` or ``replay``, for metrics and traces)."""

    notification_id: str
    body: str
    path: str
    created_s: float | None = None
    update: bool = False
    """A newer version of one sent before: ``NOTIFICATION_UPDATE``."""

    @property
    def text(self) -> str:
        if self.update:
            return protocol.notification_update_frame(self.body)
        return protocol.notification_frame(self.body)


Action = Send | Close | Verify | FlushAck | ApplyMark | StartWriter
