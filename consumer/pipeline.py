"""One batch of AMQP messages through validate → (rate-limit + dedup + buffer: one Redis round
trip) → dead-letter.

``handle_batch`` does the work and raises on any Redis or RabbitMQ failure; every step is
idempotent, so the caller may run the batch again or let the broker redeliver it. When it
returns, Redis holds every notification and the dead-letter queue has confirmed every message
this batch rejects: only then may the caller ack the batch (:mod:`consumer.acks`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from common.buffer.inbox import (
    AdmitRequest,
    BufferOutcome,
    NotificationBuffer,
    Pending,
    RateVerdict,
)
from common.logs import get_logger
from common.models import Event, utc_now
from common.telemetry.trace import Tracer
from common.validation import one_line
from consumer.dead_lettering import DeadLetterReason, dead_letter
from consumer.metrics import CAPPED, EVENTS, NOTIFICATIONS
from consumer.rules import build_notifications, is_rate_limited, semantic_digest
from consumer.tracing import batch_started, mark_outcome

__all__ = ["Pipeline", "describe_invalid"]

log = get_logger(__name__)


def describe_invalid(exc: ValidationError) -> str:
    return one_line(exc)


@dataclass
class _Item:
    """One message of the batch and what became of it."""

    message: AbstractIncomingMessage
    event: Event | None = None
    reason: DeadLetterReason | None = None
    detail: str = ""
    dead_body: bytes | None = None
    buffered: int = 0
    erased: int = 0
    collapsed: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(
        self, buffer: NotificationBuffer, dead_letters: AbstractExchange, ttl_seconds: float,
        tracer: Tracer | None = None,
    ) -> None:
        self._buffer = buffer
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._dead_letters = dead_letters
        self._ttl = ttl_seconds

    async def handle_batch(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        batch_started(self._tracer)
        items = [self._parse(m) for m in messages]
        await self._admit_and_buffer([i for i in items if i.reason is None])

        rejected = [i for i in items if i.reason is not None]
        await asyncio.gather(*(
            dead_letter(self._dead_letters, i.message, i.reason, i.detail, i.dead_body)
            for i in rejected if i.reason is not None
        ))
        outcomes = Counter(self._account(item) for item in items)
        for outcome, count in outcomes.items():
            EVENTS.labels(outcome).inc(count)

    @staticmethod
    def _parse(message: AbstractIncomingMessage) -> _Item:
        try:
            return _Item(message, Event.model_validate_json(message.body))
        except ValidationError as exc:
            return _Item(message, reason=DeadLetterReason.INVALID, detail=describe_invalid(exc))

    async def _admit_and_buffer(self, items: list[_Item]) -> None:
        """Admission of the rate-limited events and buffering of every notification, in one
        round trip: a notification of a limited event is not made (its script reads the
        admission the same round trip wrote)."""
        now = utc_now()
        admits: list[AdmitRequest] = []
        pending: list[Pending] = []
        owners: list[_Item] = []
        limited: list[_Item] = []
        for item in items:
            event = item.event
            assert event is not None
            gate = None
            if is_rate_limited(event.type):
                gate = AdmitRequest(event.tenantId, event.actorId, event.eventId)
                admits.append(gate)
                limited.append(item)
            digest = semantic_digest(event)
            accepted_ms = int(event.acceptedAt.timestamp() * 1000)
            for notification in build_notifications(event, now, self._ttl):
                pending.append(Pending(notification, digest, accepted_ms, gate))
                owners.append(item)
        admissions, outcomes = await self._buffer.admit_and_buffer(admits, pending)
        for item, admission in zip(limited, admissions, strict=True):
            if admission is RateVerdict.LIMITED:
                assert item.event is not None
                item.reason = DeadLetterReason.RATE_LIMITED
                item.detail = f"actor {item.event.actorId} is over its rate limit"
        for outcome, count in Counter(outcomes).items():
            if outcome is BufferOutcome.CAPPED:  # buffered, and the recipient's oldest went
                NOTIFICATIONS.labels("buffered").inc(count)
                CAPPED.inc(count)
            elif outcome is not BufferOutcome.LIMITED:  # counted as the event's outcome
                NOTIFICATIONS.labels(outcome.name.lower()).inc(count)
        for one, owner, outcome in zip(pending, owners, outcomes, strict=True):
            if outcome in (BufferOutcome.BUFFERED, BufferOutcome.CAPPED):
                owner.buffered += 1
            elif outcome is BufferOutcome.ERASED:
                owner.erased += 1
            elif outcome is BufferOutcome.SEMANTIC_DUPLICATE:
                owner.collapsed.append(one.notification.userId)
        for item in items:
            if item.collapsed and item.event is not None and item.reason is None:
                # The body names only the recipients whose notification collapsed, so a
                # replay from the dead-letter queue makes exactly those.
                narrowed = item.event.model_copy(update={"recipients": item.collapsed})
                item.reason = DeadLetterReason.SEMANTIC_DUPLICATE
                item.detail = (f"{len(item.collapsed)} recipient(s) already notified of the "
                               "same action within the semantic window")
                item.dead_body = narrowed.model_dump_json().encode()

    def _account(self, item: _Item) -> str:
        """The event's outcome (a label of ``EVENTS``), logged unless it is the usual one."""
        mark_outcome(self._tracer, item)
        if item.buffered and item.reason is None:
            return "notified"
        event_id = item.event.eventId if item.event else item.message.message_id
        if item.reason is not None:
            log.info("event dead-lettered", reason=item.reason.value, detail=item.detail,
                     eventId=event_id)
            return item.reason.value
        if item.erased:
            log.info("event for erased recipients dropped", eventId=event_id,
                     recipients=item.erased)
            return "erased"
        log.info("duplicate event dropped", eventId=event_id)
        return "duplicate"

