"""The consumer's trace marks: what became of one event (:mod:`common.telemetry.trace`).

Stages: ``consumed`` always; then ``buffered`` (how many notifications), ``collapsed`` (the
recipients whose notification folded into an earlier one), ``rate_limited``,
``dead_lettered`` (with the reason and detail), ``duplicate`` or ``erased``.
"""

from __future__ import annotations

from typing import Protocol

from aio_pika.abc import AbstractIncomingMessage

from common.models import Event
from common.telemetry import TRACE
from consumer.deadletter import DeadLetterReason

__all__ = ["mark_outcome"]


class Outcome(Protocol):
    message: AbstractIncomingMessage
    event: Event | None
    reason: DeadLetterReason | None
    detail: str
    buffered: int
    erased: int
    collapsed: list[str]


def mark_outcome(item: Outcome) -> None:
    if not TRACE.enabled:
        return
    event_id = item.event.eventId if item.event else item.message.message_id
    TRACE.mark(event_id, "consumed")
    if item.buffered:
        TRACE.mark(event_id, "buffered", notifications=item.buffered)
    if item.collapsed:
        TRACE.mark(event_id, "collapsed", recipients=item.collapsed[:50])
    if item.reason is DeadLetterReason.RATE_LIMITED:
        TRACE.mark(event_id, "rate_limited", detail=item.detail)
    if item.reason is not None:
        TRACE.mark(event_id, "dead_lettered", reason=item.reason.value, detail=item.detail)
    elif item.erased and not item.buffered:
        TRACE.mark(event_id, "erased", recipients=item.erased)
    elif not item.buffered:
        TRACE.mark(event_id, "duplicate")
