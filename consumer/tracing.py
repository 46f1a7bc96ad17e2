"""The consumer's trace marks: what became of one event (:mod:`common.telemetry.trace`).

Stages: ``consumed`` always; then ``buffered`` (how many notifications), ``collapsed`` (how many
recipients' notifications folded into an earlier one; no user ids in marks), ``rate_limited``,
``dead_lettered`` (with the reason and detail), ``duplicate`` or ``erased``.

The marks are written once the batch is done, but carry the time the batch started (the
outcome marks a tenth of a millisecond later): a gateway may deliver a notification before
the batch that buffered it has finished, and its ``delivered`` mark must come after these.
The start is kept in a context variable, so batches in different tasks keep their own. The
tracer is the pipeline's (passed in by the consumer's wiring).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Protocol

from aio_pika.abc import AbstractIncomingMessage

from common.models import Event
from common.telemetry.trace import Tracer
from consumer.dead_lettering import DeadLetterReason

__all__ = ["batch_started", "mark_outcome"]

_STARTED: ContextVar[float | None] = ContextVar("batch_started", default=None)


class Outcome(Protocol):
    message: AbstractIncomingMessage
    event: Event | None
    reason: DeadLetterReason | None
    detail: str
    buffered: int
    erased: int
    collapsed: list[str]


def batch_started(tracer: Tracer) -> None:
    if tracer.enabled:
        _STARTED.set(time.time() * 1000)


def mark_outcome(tracer: Tracer, item: Outcome) -> None:
    if not tracer.enabled:
        return
    event_id = item.event.eventId if item.event else item.message.message_id
    started = _STARTED.get()
    at = time.time() * 1000 if started is None else started
    then = at + 0.1
    tracer.mark(event_id, "consumed", at)
    if item.buffered:
        tracer.mark(event_id, "buffered", then, notifications=item.buffered)
    if item.collapsed:
        tracer.mark(event_id, "collapsed", then, recipients=len(item.collapsed))
    if item.reason is DeadLetterReason.RATE_LIMITED:
        tracer.mark(event_id, "rate_limited", then)
    if item.reason is DeadLetterReason.INVALID:  # the others' details name users
        tracer.mark(event_id, "dead_lettered", then, reason=item.reason.value,
                   detail=item.detail)
    elif item.reason is not None:
        tracer.mark(event_id, "dead_lettered", then, reason=item.reason.value)
    elif item.erased and not item.buffered:
        tracer.mark(event_id, "erased", then, recipients=item.erased)
    elif not item.buffered:
        tracer.mark(event_id, "duplicate", then)
