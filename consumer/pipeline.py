"""One batch of AMQP messages through validate → make (:mod:`consumer.maker`: the tenant's
type, preferences and quiet hours, templates off the event loop, rate limit + dedup + buffer
in one Redis round trip, holds for quiet hours, digests) → dead-letter → account.

``handle_batch`` does the work and raises on any Redis or RabbitMQ failure; every step is
idempotent, so the caller may run the batch again or let the broker redeliver it. When it
returns, Redis holds every notification (buffered, held or joined to its digest) and the
dead-letter queue has confirmed every message this batch rejects: only then may the caller
ack the batch (:mod:`consumer.acks`).

``make_released`` is the releaser's callback (:mod:`consumer.release`): notifications held
for quiet hours go through the same rule again, with the user's settings of now — stopped by
a preference since (``muted``), still quiet (moved to the new end: the user changed zone or
hours), or made now (rendered now, digested now); their events were admitted when held.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from common.buffer.digest import DigestBuffer
from common.buffer.held import HeldBuffer, HeldEntry
from common.buffer.inbox import NotificationBuffer
from common.logs import get_logger
from common.models import Event
from common.quiet_hours import quiet_until
from common.telemetry.trace import Tracer
from common.validation import one_line
from consumer.dead_lettering import DeadLetterReason, dead_letter, dead_letter_event
from consumer.fanout import FanoutStarter
from consumer.maker import BuiltinsOnly, Configuration, Item, Maker
from consumer.making import ReleaseOf
from consumer.metrics import EVENTS, RELEASE_OUTCOMES
from consumer.tracing import batch_started, mark_outcome

__all__ = ["Pipeline", "describe_invalid"]

log = get_logger(__name__)


def describe_invalid(exc: ValidationError) -> str:
    return one_line(exc)


class Pipeline:
    def __init__(
        self, buffer: NotificationBuffer, dead_letters: AbstractExchange, ttl_seconds: float,
        tracer: Tracer | None = None, config: Configuration | None = None,
        release_of: ReleaseOf = quiet_until, held: HeldBuffer | None = None,
        digests: DigestBuffer | None = None, fanout: FanoutStarter | None = None,
    ) -> None:
        """``config`` ``None``: the built-in types only; ``held`` ``None``: quiet hours hold
        nothing (notifications are made at once); ``digests`` ``None``: types with a digest
        window keep the semantic-duplicate rule; ``fanout`` ``None``: an event with a topic
        is dead-lettered ``invalid`` (this consumer fans nothing out)."""
        self._fanout = fanout
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._dead_letters = dead_letters
        self.maker = Maker(buffer, ttl_seconds,
                            config if config is not None else BuiltinsOnly(), release_of,
                            held, digests)

    async def handle_batch(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        batch_started(self._tracer)
        items = [self._parse(m) for m in messages]
        await self._start_fanouts([i for i in items if i.reason is None
                                   and i.event is not None and i.event.topic is not None])
        await self.maker.make([i for i in items if i.reason is None and not i.fanout],
                              gated=True)
        await asyncio.gather(*(
            dead_letter(self._dead_letters, i.message, i.reason, i.detail, i.dead_body)
            for i in items if i.reason is not None and i.message is not None
        ))
        outcomes = Counter(self._account(item) for item in items)
        for outcome, count in outcomes.items():
            EVENTS.labels(outcome).inc(count)

    async def _start_fanouts(self, items: list[Item]) -> None:
        """A topic event is not expanded here: its fan-out is recorded and its first chunk
        published (:mod:`consumer.fanout`) before the batch is acked."""
        if not items:
            return
        if self._fanout is None:
            for item in items:
                item.reason = DeadLetterReason.INVALID
                item.detail = "this consumer fans out no topic (no fan-out configured)"
            return
        await self._fanout.start([i.event for i in items if i.event is not None])
        for item in items:
            item.fanout = True

    async def make_released(self, entries: Sequence[HeldEntry]) -> None:
        """Make (or move, or stop) notifications released from quiet hours: the releaser's
        ``make`` (:class:`consumer.release.Releaser`). Raises only on a Redis, RabbitMQ or
        store failure (the releaser then forgets nothing)."""
        items: list[Item] = []
        for entry in entries:
            body = entry.event_json.encode()
            try:
                event = Event.model_validate_json(body)
            except ValidationError as exc:
                # Held only after it validated: a changed model, or a damaged entry.
                items.append(Item(None, body=body, entry=entry,
                                   reason=DeadLetterReason.INVALID,
                                   detail=describe_invalid(exc)))
                continue
            narrowed = event.model_copy(update={"recipients": [entry.user_id]})
            items.append(Item(None, narrowed, body, entry))
        # Read now, not as cached before a change: a user who ended their quiet hours has
        # the producer move their held notifications to now, and a cached copy from before
        # (up to HERALD_CONFIG_TTL_SECONDS old) would hold them again until the old end (the
        # fault suite's held-through-restarts met it every time).
        self.maker.forget_users({(e.tenant_id, e.user_id) for e in entries})
        await self.maker.make([i for i in items if i.reason is None], gated=False)
        await asyncio.gather(*(
            dead_letter_event(self._dead_letters, i.dead_body or i.body,
                              i.event_id or "", i.reason, i.detail)
            for i in items if i.reason is not None
        ))
        for item in items:
            outcome = self._released_outcome(item)
            RELEASE_OUTCOMES.labels(outcome).inc()
            self._tracer.mark(item.event_id, "released", outcome=outcome)

    @staticmethod
    def _released_outcome(item: Item) -> str:
        if item.reason is not None:
            return item.reason.value
        if item.buffered:
            return "made"
        for count, label in ((item.held, "held_again"), (item.muted, "muted"),
                             (item.erased, "erased"), (item.repeated, "repeated")):
            if count:
                return label
        return "duplicate"

    @staticmethod
    def _parse(message: AbstractIncomingMessage) -> Item:
        try:
            return Item(message, Event.model_validate_json(message.body), message.body)
        except ValidationError as exc:
            return Item(message, reason=DeadLetterReason.INVALID, detail=describe_invalid(exc))

    def _account(self, item: Item) -> str:
        """The event's outcome (a label of ``EVENTS``), logged unless it is the usual one."""
        mark_outcome(self._tracer, item)
        if item.fanout:
            return "fanout"
        if item.buffered and item.reason is None:
            return "notified"
        event_id = item.event_id
        if item.reason is not None:
            log.info("event dead-lettered", reason=item.reason.value, detail=item.detail,
                     eventId=event_id)
            return item.reason.value
        if item.held:
            return "held"
        if item.erased:
            log.info("event for erased recipients dropped", eventId=event_id,
                     recipients=item.erased)
            return "erased"
        if item.muted:
            return "muted"
        if item.repeated:
            return "repeated"
        log.info("duplicate event dropped", eventId=event_id)
        return "duplicate"


