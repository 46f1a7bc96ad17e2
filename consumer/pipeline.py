"""One batch of AMQP messages through validate → the tenant's type → preferences and quiet
hours (:mod:`consumer.making`) → templates (:mod:`consumer.rendering`, off the event loop) →
(rate-limit + dedup + buffer: one Redis round trip) → dead-letter.

``handle_batch`` does the work and raises on any Redis or RabbitMQ failure; every step is
idempotent, so the caller may run the batch again or let the broker redeliver it. When it
returns, Redis holds every notification and the dead-letter queue has confirmed every message
this batch rejects: only then may the caller ack the batch (:mod:`consumer.acks`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from common.buffer.inbox import (
    AdmitRequest,
    BufferOutcome,
    NotificationBuffer,
    Pending,
    RateVerdict,
)
from common.catalog import TenantConfig, TypeDef
from common.logs import get_logger
from common.models import Event, utc_now
from common.preferences import UserSettings
from common.telemetry.trace import Tracer
from common.validation import one_line
from consumer.dead_lettering import DeadLetterReason, dead_letter
from consumer.making import ReleaseOf, Verdict, decide, never_quiet
from consumer.metrics import CAPPED, EVENTS, NOTIFICATIONS
from consumer.rendering import Job, render_jobs
from consumer.rules import build_notifications, is_rate_limited, semantic_digest
from consumer.tracing import batch_started, mark_outcome

__all__ = ["BuiltinsOnly", "ConfigUnavailable", "Configuration", "Pipeline",
           "describe_invalid"]

log = get_logger(__name__)


def describe_invalid(exc: ValidationError) -> str:
    return one_line(exc)


class Configuration(Protocol):
    """What the pipeline reads of tenants and users (:class:`common.config_cache.ConfigCache`
    in the service); raises when it cannot know (the batch is then retried)."""

    async def tenant(self, tenant_id: str) -> TenantConfig: ...

    async def users(self, tenant_id: str, user_ids: Sequence[str]
                    ) -> Mapping[str, UserSettings]: ...


class ConfigUnavailable(ConnectionError):
    """The store did not answer a configuration read: a transient failure (the worker
    retries the batch with backoff, the events wait in RabbitMQ), never a dead letter."""


class BuiltinsOnly:
    """A :class:`Configuration` without a store: the five built-in types and their default
    templates, no user settings (the benchmarks, tests of the buffer path)."""

    async def tenant(self, tenant_id: str) -> TenantConfig:
        return TenantConfig(tenant_id)

    async def users(self, tenant_id: str, user_ids: Sequence[str]
                    ) -> Mapping[str, UserSettings]:
        return {}


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
    muted: int = 0
    held: int = 0
    collapsed: list[str] = field(default_factory=list)
    typedef: TypeDef | None = None
    jobs: list[Job] = field(default_factory=list)


class Pipeline:
    def __init__(
        self, buffer: NotificationBuffer, dead_letters: AbstractExchange, ttl_seconds: float,
        tracer: Tracer | None = None, config: Configuration | None = None,
        release_of: ReleaseOf = never_quiet,
    ) -> None:
        self._buffer = buffer
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._dead_letters = dead_letters
        self._ttl = ttl_seconds
        self._config: Configuration = config if config is not None else BuiltinsOnly()
        self._release_of = release_of

    async def handle_batch(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        batch_started(self._tracer)
        items = [self._parse(m) for m in messages]
        await self._prepare([i for i in items if i.reason is None])
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

    async def _prepare(self, items: list[_Item]) -> None:
        """Each item's type (or ``unknown_type``), what becomes of each recipient
        (:func:`consumer.making.decide`) and its messages (``template_failed`` when its
        template fails on it): two store reads per tenant at most, through the cache."""
        if not items:
            return
        tenants = sorted({i.event.tenantId for i in items if i.event is not None})
        try:
            configs = dict(zip(tenants, await asyncio.gather(
                *(self._config.tenant(t) for t in tenants)), strict=True))
        except Exception as exc:
            raise ConfigUnavailable(f"tenant configuration not read: {exc!r}"[:500]) from exc
        wanted: dict[str, set[str]] = {t: set() for t in tenants}
        for item in items:
            event = item.event
            assert event is not None
            item.typedef = configs[event.tenantId].type_of(event.type)
            if item.typedef is None:
                item.reason = DeadLetterReason.UNKNOWN_TYPE
                item.detail = f"tenant {event.tenantId} has no event type {event.type!r}"
            else:
                wanted[event.tenantId].update(event.recipients)
        try:
            users = dict(zip(tenants, await asyncio.gather(
                *(self._config.users(t, sorted(wanted[t])) for t in tenants)), strict=True))
        except Exception as exc:
            raise ConfigUnavailable(f"user settings not read: {exc!r}"[:500]) from exc
        now = utc_now()
        jobs: list[Job] = []
        for item in items:
            event, typedef = item.event, item.typedef
            if event is None or typedef is None:
                continue
            by_locale: dict[str | None, list[str]] = {}
            for decision in decide(event, typedef, event.recipients, users[event.tenantId],
                                   now, self._release_of):
                if decision.verdict is Verdict.MUTED:
                    item.muted += 1
                    continue
                # Quiet hours hold nothing yet: held notifications are made now.
                by_locale.setdefault(decision.locale, []).append(decision.recipient)
            item.jobs = [Job(event, configs[event.tenantId], locale, recipients)
                         for locale, recipients in by_locale.items()]
            jobs.extend(item.jobs)
        if jobs:
            await asyncio.to_thread(render_jobs, jobs)
        for item in items:
            failed = next((job.error for job in item.jobs if job.error is not None), None)
            if failed is not None:
                item.reason = DeadLetterReason.TEMPLATE_FAILED
                item.detail = failed
                item.jobs = []
        if any(i.muted for i in items):
            NOTIFICATIONS.labels("muted").inc(sum(i.muted for i in items))

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
            priority = item.typedef.priority if item.typedef is not None else None
            for job in item.jobs:
                for notification in build_notifications(event, now, self._ttl, job.messages,
                                                        priority):
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
        if item.held:
            return "held"
        if item.muted:
            return "muted"
        log.info("duplicate event dropped", eventId=event_id)
        return "duplicate"

