"""Everything between a valid event and its notifications, for the events the consumer takes
and the notifications it releases from quiet hours (:mod:`consumer.pipeline` is the AMQP shell
around it):

1. the tenant's type (unknown → ``unknown_type``), each recipient's fate
   (:func:`consumer.making.decide`: muted, held, made) and the messages of those made now and
   not digested, rendered in a thread (failing → ``template_failed``);
2. admission of the rate-limited events and buffering, one round trip
   (:class:`common.buffer.inbox.NotificationBuffer`);
3. holds for quiet hours (:class:`common.buffer.held.HeldBuffer`; a released one still quiet
   moves to the new end);
4. digests (:class:`common.buffer.digest.DigestBuffer`), their messages rendered in a thread.

Every step is idempotent: a batch may be made again after any failure.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from aio_pika.abc import AbstractIncomingMessage

from common.buffer.digest import DigestBuffer, DigestCandidate, DigestOutcome, DigestState
from common.buffer.held import HeldBuffer, HeldEntry, Hold, HoldOutcome
from common.buffer.inbox import (
    AdmitRequest,
    BufferOutcome,
    NotificationBuffer,
    Pending,
    RateVerdict,
)
from common.catalog import TenantConfig, TypeDef
from common.millis import to_ms
from common.models import Event, notification_id, utc_now
from common.preferences import UserSettings
from consumer.dead_lettering import DeadLetterReason
from consumer.digesting import Digestible, group_of, render_states
from consumer.making import Decision, ReleaseOf, Verdict, decide
from consumer.metrics import CAPPED, NOTIFICATIONS
from consumer.rendering import Job, render_jobs
from consumer.rules import build_notifications, is_rate_limited, semantic_digest

__all__ = ["BuiltinsOnly", "ConfigUnavailable", "Configuration", "Item", "Maker"]


class Configuration(Protocol):
    """What the pipeline reads of tenants and users (:class:`common.config_cache.ConfigCache`
    in the service); raises when it cannot know (the batch is then retried)."""

    async def tenant(self, tenant_id: str) -> TenantConfig: ...

    async def users(self, tenant_id: str, user_ids: Sequence[str]
                    ) -> Mapping[str, UserSettings]: ...

    def forget(self, tenant_id: str, user_id: str | None = None) -> None:
        """The next read of the user (or the tenant, ``user_id`` ``None``) goes to the
        store."""


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

    def forget(self, tenant_id: str, user_id: str | None = None) -> None:
        return None


@dataclass
class Item:
    """One event of the batch (or one released notification) and what became of it."""

    message: AbstractIncomingMessage | None
    event: Event | None = None
    body: bytes = b""
    """The event as received (what a hold keeps and a released dead letter carries)."""
    entry: HeldEntry | None = None
    """The held notification this item releases (``make_released``), else ``None``."""
    reason: DeadLetterReason | None = None
    detail: str = ""
    dead_body: bytes | None = None
    limited: bool = False
    buffered: int = 0
    erased: int = 0
    muted: int = 0
    held: int = 0
    repeated: int = 0
    fanout: bool = False
    """A topic event whose fan-out was recorded and started (:mod:`consumer.fanout`)."""
    collapsed: list[str] = field(default_factory=list)
    typedef: TypeDef | None = None
    config: TenantConfig | None = None
    jobs: list[Job] = field(default_factory=list)
    holds: list[Decision] = field(default_factory=list)
    digests: list[Decision] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        if self.event is not None:
            return self.event.eventId
        return self.message.message_id if self.message is not None else None


class Maker:
    def __init__(self, buffer: NotificationBuffer, ttl_seconds: float, config: Configuration,
                 release_of: ReleaseOf, held: HeldBuffer | None,
                 digests: DigestBuffer | None) -> None:
        self._buffer = buffer
        self._ttl = ttl_seconds
        self._config = config
        self._release_of = release_of
        self._held = held
        self._digests = digests

    async def make(self, items: list[Item], *, gated: bool) -> None:
        """Everything between a valid event and its notifications, for events taken
        (``gated``: rate-limited) or released (admitted when they were held)."""
        if not items:
            return
        await self._prepare(items)
        live = [i for i in items if i.reason is None]
        await self._admit_and_buffer(live, gated=gated)
        admitted = [i for i in live if not i.limited]
        await self._hold(admitted)
        await self._join(admitted)

    async def _prepare(self, items: list[Item]) -> None:
        """Each item's type (or ``unknown_type``), what becomes of each recipient
        (:func:`consumer.making.decide`) and the messages of those made now and not digested
        (``template_failed`` when its template fails on it): two store reads per tenant at
        most, through the cache."""
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
            item.config = configs[event.tenantId]
            item.typedef = item.config.type_of(event.type)
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
        users = await self._fresh_if_quiet(items, users)
        now = utc_now()
        jobs: list[Job] = []
        for item in items:
            event, typedef, config = item.event, item.typedef, item.config
            if event is None or typedef is None or config is None:
                continue
            digested = typedef.digests and self._digests is not None
            by_locale: dict[str | None, list[str]] = {}
            for decision in decide(event, typedef, event.recipients, users[event.tenantId],
                                   now, self._release_of):
                if decision.verdict is Verdict.MUTED:
                    item.muted += 1
                elif decision.verdict is Verdict.HELD and (self._held is not None
                                                           or item.entry is not None):
                    item.holds.append(decision)
                elif digested:
                    item.digests.append(decision)
                else:
                    by_locale.setdefault(decision.locale, []).append(decision.recipient)
            item.jobs = [Job(event, config, locale, recipients)
                         for locale, recipients in by_locale.items()]
            jobs.extend(item.jobs)
        if jobs:
            await asyncio.to_thread(render_jobs, jobs)
        for item in items:
            failed = next((job.error for job in item.jobs if job.error is not None), None)
            if failed is not None:
                item.reason = DeadLetterReason.TEMPLATE_FAILED
                item.detail = failed
                item.jobs, item.holds, item.digests = [], [], []
        muted = sum(i.muted for i in items)
        if muted:
            NOTIFICATIONS.labels("muted").inc(muted)

    async def _fresh_if_quiet(self, items: list[Item],
                              users: dict[str, Mapping[str, UserSettings]]
                              ) -> dict[str, Mapping[str, UserSettings]]:
        """The settings of the recipients who are in quiet hours as the cache has them,
        read again from the store: a user who ended their quiet hours a moment ago must not
        wait until the old end because a cached copy (``HERALD_CONFIG_TTL_SECONDS`` old) said
        otherwise. Only those users: quiet hours are few users at any moment."""
        now = utc_now()
        quiet: dict[str, set[str]] = {}
        for item in items:
            event, typedef = item.event, item.typedef
            if event is None or typedef is None or typedef.breaks_through:
                continue
            tenant_users = users[event.tenantId]
            for recipient in event.recipients:
                settings = tenant_users.get(recipient)
                if settings is not None and settings.quiet_hours is not None \
                        and not settings.quiet_hours.empty \
                        and self._quiet(settings, now):
                    quiet.setdefault(event.tenantId, set()).add(recipient)
        if not quiet:
            return users
        fresh = dict(users)
        try:
            for tenant_id, wanted in quiet.items():
                for user_id in wanted:
                    self._config.forget(tenant_id, user_id)
                again = await self._config.users(tenant_id, sorted(wanted))
                fresh[tenant_id] = {**{u: s for u, s in users[tenant_id].items()
                                       if u not in wanted}, **again}
        except Exception as exc:
            raise ConfigUnavailable(f"user settings not read: {exc!r}"[:500]) from exc
        return fresh

    def _quiet(self, settings: UserSettings, now: datetime) -> bool:
        assert settings.quiet_hours is not None
        try:
            return self._release_of(settings.quiet_hours, settings.time_zone, now) is not None
        except ValueError:  # a zone this machine does not know: decide() says what then
            return True

    def forget_users(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Make the next read of these (tenant, user) go to the store."""
        for tenant_id, user_id in pairs:
            self._config.forget(tenant_id, user_id)

    async def _hold(self, items: list[Item]) -> None:
        """Hold the notifications of recipients in quiet hours until they end; a released
        one still quiet (the user changed zone or hours) moves to the new end."""
        holds: list[Hold] = []
        owners: list[Item] = []
        moves: list[tuple[HeldEntry, int]] = []
        now_ms = to_ms(utc_now())
        for item in items:
            event = item.event
            for decision in item.holds:
                assert event is not None
                assert decision.release_at is not None
                release_ms = to_ms(decision.release_at)
                if item.entry is not None:
                    moves.append((item.entry, release_ms))
                    item.held += 1
                    continue
                holds.append(Hold(event.tenantId, decision.recipient,
                                  notification_id(event.tenantId, event.eventId,
                                                  decision.recipient),
                                  item.body, release_ms, to_ms(event.acceptedAt), now_ms))
                owners.append(item)
        if moves and self._held is not None:
            await self._held.move(moves)
            NOTIFICATIONS.labels("held").inc(len(moves))
        if not holds or self._held is None:
            return
        outcomes = await self._held.hold(holds)
        for owner, outcome in zip(owners, outcomes, strict=True):
            if outcome is HoldOutcome.HELD:
                owner.held += 1
            elif outcome is HoldOutcome.ERASED:
                owner.erased += 1
        for outcome, count in Counter(outcomes).items():
            label = {HoldOutcome.HELD: "held", HoldOutcome.ERASED: "erased"}.get(
                outcome, "duplicate")
            NOTIFICATIONS.labels(label).inc(count)

    async def _join(self, items: list[Item]) -> None:
        """Join each digested notification to its digest (:mod:`common.buffer.digest`);
        its message is rendered for the digest's state, in a thread."""
        if self._digests is None:
            return
        now = utc_now()
        candidates: list[DigestCandidate] = []
        owners: list[Item] = []
        lookup: dict[str, Digestible] = {}
        for item in items:
            event, typedef, config = item.event, item.typedef, item.config
            if not item.digests or event is None or typedef is None or config is None:
                continue
            group = group_of(typedef, event)
            accepted_ms = to_ms(event.acceptedAt)
            for decision in item.digests:
                (notification,) = build_notifications(
                    event, now, self._ttl, {decision.recipient: ""}, typedef.priority)
                candidate = DigestCandidate(notification, group,
                                            typedef.digest_window_seconds * 1000, accepted_ms)
                candidates.append(candidate)
                owners.append(item)
                lookup[notification.id] = Digestible(candidate, event, config, decision.locale)
        if not candidates:
            return

        async def render_many(states: Sequence[DigestState]) -> list[str | Exception]:
            return await render_states(lookup, states)

        results = await self._digests.join(candidates, render_many=render_many)
        for owner, result in zip(owners, results, strict=True):
            outcome = result.outcome
            if outcome in (DigestOutcome.OPENED, DigestOutcome.CAPPED, DigestOutcome.JOINED,
                           DigestOutcome.JOINED_STORED):
                owner.buffered += 1
            elif outcome is DigestOutcome.ERASED:
                owner.erased += 1
            elif outcome is DigestOutcome.REPEATED:
                owner.repeated += 1
            elif outcome is DigestOutcome.RENDER_FAILED and owner.reason is None:
                owner.reason = DeadLetterReason.TEMPLATE_FAILED
                owner.detail = str(result.error)
            if outcome is DigestOutcome.CAPPED:
                CAPPED.inc()
            NOTIFICATIONS.labels(_DIGEST_LABELS[outcome]).inc()

    async def _admit_and_buffer(self, items: list[Item], *, gated: bool) -> None:
        """Admission of the rate-limited events (``gated``) and buffering of every
        notification made now and not digested, in one round trip: a notification of a
        limited event is not made (its script reads the admission the same round trip
        wrote)."""
        now = utc_now()
        admits: list[AdmitRequest] = []
        pending: list[Pending] = []
        owners: list[Item] = []
        limited: list[Item] = []
        for item in items:
            event = item.event
            assert event is not None
            gate = None
            if gated and is_rate_limited(event.type):
                gate = AdmitRequest(event.tenantId, event.actorId, event.eventId)
                admits.append(gate)
                limited.append(item)
            digest = semantic_digest(event)
            accepted_ms = to_ms(event.acceptedAt)
            priority = item.typedef.priority if item.typedef is not None else None
            for job in item.jobs:
                for notification in build_notifications(event, now, self._ttl, job.messages,
                                                        priority):
                    pending.append(Pending(notification, digest, accepted_ms, gate))
                    owners.append(item)
        if not admits and not pending:
            return
        admissions, outcomes = await self._buffer.admit_and_buffer(admits, pending)
        for item, admission in zip(limited, admissions, strict=True):
            if admission is RateVerdict.LIMITED:
                assert item.event is not None
                item.limited = True
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


_DIGEST_LABELS = {
    DigestOutcome.DUPLICATE: "duplicate", DigestOutcome.OPENED: "buffered",
    DigestOutcome.CAPPED: "buffered", DigestOutcome.JOINED: "joined",
    DigestOutcome.JOINED_STORED: "joined", DigestOutcome.REPEATED: "repeated",
    DigestOutcome.ERASED: "erased", DigestOutcome.RENDER_FAILED: "template_failed",
}
"""A digest outcome's label of ``herald_notifications_total``."""
