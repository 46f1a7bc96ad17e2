"""The consumer's trace marks: what became of one event (:mod:`common.telemetry.trace`).

Stages: ``consumed`` always; then ``buffered`` (how many notifications), ``collapsed`` (how many
recipients' notifications folded into an earlier one; no user ids in marks), ``muted`` (how
many recipients' preferences stopped it, ``why`` ``preference``), ``held`` (how many were held
for the end of quiet hours), ``repeated`` (how many digests counted the actor already),
``rate_limited``, ``dead_lettered`` (with the reason and detail; a template's failure says
which template and why), ``duplicate`` or ``erased``.

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

from common.models import Event
from common.telemetry.trace import Tracer
from consumer.dead_lettering import DeadLetterReason

__all__ = ["batch_started", "mark_outcome"]

_STARTED: ContextVar[float | None] = ContextVar("batch_started", default=None)


class Outcome(Protocol):
    @property
    def event_id(self) -> str | None: ...

    event: Event | None
    reason: DeadLetterReason | None
    detail: str
    buffered: int
    erased: int
    muted: int
    held: int
    repeated: int
    collapsed: list[str]


def batch_started(tracer: Tracer) -> None:
    if tracer.enabled:
        _STARTED.set(time.time() * 1000)


def mark_outcome(tracer: Tracer, item: Outcome) -> None:
    if not tracer.enabled:
        return
    event_id = item.event_id
    if event_id is None:
        return
    started = _STARTED.get()
    at = time.time() * 1000 if started is None else started
    then = at + 0.1
    tracer.mark(event_id, "consumed", at)
    if item.buffered:
        tracer.mark(event_id, "buffered", then, notifications=item.buffered)
    if item.collapsed:
        tracer.mark(event_id, "collapsed", then, recipients=len(item.collapsed))
    if item.muted:
        tracer.mark(event_id, "muted", then, recipients=item.muted, why="preference")
    if item.held:
        tracer.mark(event_id, "held", then, recipients=item.held, why="quiet hours")
    if item.repeated:
        tracer.mark(event_id, "repeated", then, recipients=item.repeated)
    if item.reason is DeadLetterReason.RATE_LIMITED:
        tracer.mark(event_id, "rate_limited", then)
    if item.reason in (DeadLetterReason.INVALID, DeadLetterReason.TEMPLATE_FAILED,
                       DeadLetterReason.UNKNOWN_TYPE):  # the others' details name users
        assert item.reason is not None
        tracer.mark(event_id, "dead_lettered", then, reason=item.reason.value,
                   detail=item.detail)
    elif item.reason is not None:
        tracer.mark(event_id, "dead_lettered", then, reason=item.reason.value)
    elif item.erased and not item.buffered:
        tracer.mark(event_id, "erased", then, recipients=item.erased)
    elif not (item.buffered or item.muted or item.held or item.repeated):
        tracer.mark(event_id, "duplicate", then)
