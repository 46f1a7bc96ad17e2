"""Fan-out of a topic event (issue 20): its subscribers in bounded chunks, each chunk a message
of its own on ``{prefix}.fanout``, every notification exactly once.

1. **Taken** (:class:`FanoutStarter`, called by :class:`consumer.pipeline.Pipeline` for an
   event with a ``topic``): the fan-out is recorded once in Redis
   (:class:`common.buffer.fanout.FanoutLedger`; a redelivered event keeps the first
   ``startedAt``) and its first chunk ``{eventId, tenantId, after: null, page: 0}`` is
   published, confirmed, before the event is acked. The event is not expanded in the batch.
2. **A chunk** (:class:`ChunkHandler`, the second worker's handler, on a channel of its own
   with a small prefetch): one page of the audience, ordered by user id — the topic's
   subscribers (:meth:`common.store.base.Store.subscribers` with ``made_until`` the
   fan-out's start: **the snapshot rule**: a user is reached if subscribed when their page is
   read *and* subscribed at or before the start; one who subscribes later or leaves before
   their page is read is out), or for ``"*"`` the tenant's known users (no snapshot time:
   those known when their page is read). The actor is left out. Their notifications are made
   by :meth:`consumer.maker.Maker.make` (each recipient's preferences, quiet hours, digests
   and templates apply; not rate-limited: the event was taken once). Then the successor
   ``{after: last user of the page, page + 1}`` is published, confirmed, once (the marker
   of :meth:`FanoutLedger.claim`) — a short page is the last one — then the page's counts
   are recorded (once per page), then the chunk is acked.
3. **Cancelled** (``DELETE /v1/fanouts/{eventId}``): a chunk taken afterwards makes nothing
   and publishes no successor.

Exactly once: a notification's id is derived from (tenant, event, user), and every write is
idempotent on it (the buffer's "already made" marker); a chunk redelivered after a crash makes
its page again (nothing new) and finds its successor published. A user reached through the
topic and directly by the same event id gets one notification (the same id). A recipient
the making dead-letters (a template failing on them, an unknown type) is dead-lettered as a
plain event naming that page's recipients, so a replay makes exactly those.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Protocol

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.buffer.fanout import FIRST, Claim, FanoutLedger, PageCounts
from common.logs import get_logger
from common.millis import from_ms, to_ms
from common.models import BROADCAST, Event, Id, utc_now
from common.naming import Names
from consumer.dead_lettering import DeadLetterReason, dead_letter, dead_letter_event
from consumer.maker import Item, Maker
from consumer.metrics import FANOUT_CHUNKS

__all__ = ["Audience", "ChunkHandler", "ChunkMessage", "ChunkPublisher", "FanoutStarter"]

log = get_logger(__name__)


class ChunkMessage(BaseModel):
    """One chunk of a fan-out on ``{prefix}.fanout``: the page of the audience after user
    ``after`` (``None``: from the first), the ``page``-th (0 first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    eventId: Id
    tenantId: Id
    after: Id | None = None
    page: Annotated[int, Field(strict=True, ge=0)]


class Audience(Protocol):
    """What a chunk reads of the store (:class:`common.store.base.Store`)."""

    async def subscribers(self, tenant_id: str, topic: str, *, after: str | None, limit: int,
                          made_until: datetime | None = None) -> list[str]: ...

    async def known_users(self, tenant_id: str, *, after: str | None, limit: int
                          ) -> list[str]: ...


class ChunkPublisher:
    """Publishes a chunk once (the claim protocol of :mod:`common.buffer.fanout`), confirmed."""

    def __init__(self, exchange: AbstractExchange, names: Names, ledger: FanoutLedger,
                 lease_seconds: float, ttl_seconds: float) -> None:
        self._exchange = exchange  # the default exchange of a channel with confirms
        self._queue = names.fanout_queue
        self._ledger = ledger
        self._lease_ms = int(lease_seconds * 1000)
        self._ttl_ms = int(ttl_seconds * 1000)

    async def publish_once(self, chunk: ChunkMessage) -> bool:
        """Publish ``chunk`` unless it was published before; ``True`` when this call did.
        Waits (bounded: the lease, three times over) while another holder publishes it."""
        marker = chunk.after if chunk.after is not None else FIRST
        deadline = time.monotonic() + 3 * self._lease_ms / 1000
        while True:
            claim = await self._ledger.claim(chunk.tenantId, chunk.eventId, marker,
                                             self._lease_ms)
            if claim is Claim.PUBLISHED:
                return False
            if claim is Claim.MINE:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"chunk {chunk.page} of {chunk.eventId} stays claimed")
            await asyncio.sleep(0.1)
        await self._exchange.publish(
            aio_pika.Message(chunk.model_dump_json().encode(), content_type="application/json",
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             message_id=f"{chunk.eventId}#{chunk.page}"),
            routing_key=self._queue, mandatory=True)
        await self._ledger.published(chunk.tenantId, chunk.eventId, marker, self._ttl_ms)
        FANOUT_CHUNKS.labels("published").inc()
        return True


class FanoutStarter:
    """Records a topic event's fan-out and publishes its first chunk (the pipeline's part)."""

    def __init__(self, ledger: FanoutLedger, publisher: ChunkPublisher,
                 ttl_seconds: float) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._ttl_ms = int(ttl_seconds * 1000)

    async def start(self, events: Sequence[Event]) -> None:
        """Raises on a Redis or RabbitMQ failure (the batch is retried: every step is
        idempotent)."""
        for event in events:
            assert event.topic is not None
            state, _ = await self._ledger.begin(
                event.tenantId, event.eventId, event.topic, event.model_dump_json(),
                to_ms(utc_now()), self._ttl_ms)
            if state == "running":
                await self._publisher.publish_once(
                    ChunkMessage(eventId=event.eventId, tenantId=event.tenantId, page=0))


class ChunkHandler:
    """The fan-out worker's handler (:class:`consumer.worker.Worker` runs it): one chunk at a
    time, in delivery order."""

    def __init__(self, ledger: FanoutLedger, publisher: ChunkPublisher, maker: Maker,
                 audience: Audience, dead_letters: AbstractExchange, page_size: int) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._maker = maker
        self._audience = audience
        self._dead_letters = dead_letters
        self._page_size = page_size

    async def handle_batch(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        for message in messages:
            await self._one(message)

    async def _one(self, message: AbstractIncomingMessage) -> None:
        try:
            chunk = ChunkMessage.model_validate_json(message.body)
        except ValidationError as exc:
            await dead_letter(self._dead_letters, message, DeadLetterReason.INVALID,
                              f"not a fan-out chunk: {exc.errors()[0]['msg']}"[:500])
            FANOUT_CHUNKS.labels("invalid").inc()
            return
        record = await self._ledger.get(chunk.tenantId, chunk.eventId)
        if record is None:
            log.warning("fan-out chunk of an unknown fan-out dropped", eventId=chunk.eventId,
                        page=chunk.page)
            FANOUT_CHUNKS.labels("unknown").inc()
            return
        if record.state == "cancelled":
            FANOUT_CHUNKS.labels("cancelled").inc()
            return
        event = Event.model_validate_json(record.event_json)
        if record.topic == BROADCAST:
            users = await self._audience.known_users(chunk.tenantId, after=chunk.after,
                                                     limit=self._page_size)
        else:
            users = await self._audience.subscribers(
                chunk.tenantId, record.topic, after=chunk.after, limit=self._page_size,
                made_until=from_ms(record.started_ms))
        recipients = [u for u in users if u != event.actorId]
        counts = await self._make(message, event, recipients)
        last = len(users) < self._page_size
        if not last:
            await self._publisher.publish_once(ChunkMessage(
                eventId=chunk.eventId, tenantId=chunk.tenantId, after=users[-1],
                page=chunk.page + 1))
        state = await self._ledger.record_page(chunk.tenantId, chunk.eventId, chunk.page,
                                               counts, last=last, now_ms=to_ms(utc_now()))
        FANOUT_CHUNKS.labels("made").inc()
        if last and state == "done":
            log.info("fan-out done", eventId=chunk.eventId, tenantId=chunk.tenantId,
                     pages=chunk.page + 1)

    async def _make(self, message: AbstractIncomingMessage, event: Event,
                    recipients: list[str]) -> PageCounts:
        if not recipients:
            return PageCounts()
        narrowed = event.model_copy(update={"topic": None, "recipients": recipients})
        body = narrowed.model_dump_json().encode()
        item = Item(message, narrowed, body)
        await self._maker.make([item], gated=False)
        failed = 0
        if item.reason is not None:
            failed = len(item.collapsed) if item.collapsed else len(recipients)
            await dead_letter_event(self._dead_letters, item.dead_body or body, event.eventId,
                                    item.reason, item.detail)
        made = item.buffered + item.repeated
        muted = item.muted + item.erased
        duplicate = max(0, len(recipients) - made - muted - item.held - failed)
        return PageCounts(len(recipients), made, muted, item.held, duplicate, failed)
