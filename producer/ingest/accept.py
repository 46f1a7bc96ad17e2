"""Turns validated bodies into published events: shared by the v1 and the seed routes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from common.logs import get_logger
from common.models import Event, is_builtin
from common.telemetry.trace import Tracer
from producer.bodies import validate_body
from producer.errors import MAX_DETAILS, HttpError
from producer.ingest.publisher import Publisher, PublishUnavailable
from producer.metrics import (
    ACCEPTED_BY_TYPE,
    EVENTS_REJECTED,
    PUBLISH_FAILURES,
    PUBLISH_SECONDS,
    TENANT_TYPE_LABEL,
)
from producer.schemas import DEFAULT_WINDOW, EventIn, OccurredWindow

__all__ = ["Ingest"]

log = get_logger(__name__)

UNAVAILABLE = "broker_unavailable"

TypeCheck = Callable[[str, str], Awaitable[bool]]
"""``(tenant id, type name) -> whether the tenant has that type``; asked only for names that
are not built-ins."""


async def _no_tenant_types(tenant_id: str, kind: str) -> bool:
    return False
BATCH_DETAILS = 5 * MAX_DETAILS
"""Details listed in one batch answer, over all its items: each item's are capped already,
but 500 items of 20 details each would be a megabyte of answer to a small body."""


class Ingest:
    def __init__(self, publisher: Publisher, retry_after_seconds: int,
                 window: OccurredWindow = DEFAULT_WINDOW, tracer: Tracer | None = None,
                 known_type: TypeCheck = _no_tenant_types) -> None:
        self._publisher = publisher
        self._known_type = known_type
        self._tracer = tracer if tracer is not None else Tracer()  # unstarted: marks nothing
        self._retry_after = str(retry_after_seconds)
        self._context = {"window": window}

    def unavailable(self, event_id: str | None = None) -> HttpError:
        message = "the broker did not confirm the event; retry later with the same eventId"
        details = [{"field": "eventId", "value": event_id}] if event_id else None
        return HttpError(503, UNAVAILABLE, message, details,
                         headers={"Retry-After": self._retry_after})

    def validate(self, body: Any) -> EventIn:
        """``body`` as an event, ``occurredAt`` within this producer's window; 422 if not."""
        try:
            return validate_body(EventIn, body, "invalid_event", "the event is not valid",
                                 self._context)
        except HttpError:
            EVENTS_REJECTED.labels("invalid").inc()
            raise

    async def check_type(self, body: EventIn) -> EventIn:
        """``body`` if its type is a built-in or one its tenant registered; 422
        ``unknown_type`` naming it otherwise."""
        if is_builtin(body.type) or await self._known_type(body.tenantId, body.type):
            return body
        EVENTS_REJECTED.labels("unknown_type").inc()
        raise HttpError(422, "unknown_type", f"tenant {body.tenantId} has no event type "
                        f"{body.type!r}: register it with PUT /v1/event-types/{{type}}",
                        [{"field": "type", "value": body.type,
                          "message": "not a built-in type nor one of the tenant's"}])

    async def _publish(self, events: list[Event]) -> list[PublishUnavailable | None]:
        started = time.perf_counter()
        outcomes = await self._publisher.publish_many(events)
        PUBLISH_SECONDS.observe(time.perf_counter() - started)
        for event, failure in zip(events, outcomes, strict=True):
            if failure is None:
                ACCEPTED_BY_TYPE.get(event.type, ACCEPTED_BY_TYPE[TENANT_TYPE_LABEL]).inc()
                self._tracer.mark(event.eventId, "accepted", event.acceptedAt.timestamp() * 1000,
                                  type=event.type, tenantId=event.tenantId)
            else:
                PUBLISH_FAILURES.labels(failure.reason).inc()
                log.warning("publish not confirmed", eventId=event.eventId, error=str(failure))
        return outcomes

    async def accept(self, body: EventIn) -> Event:
        """Publish and wait for the confirm; 422 for a type the tenant does not have, 503 (as
        :class:`HttpError`) if no confirm comes."""
        event = (await self.check_type(body)).to_event()
        (failure,) = await self._publish([event])
        if failure is not None:
            raise self.unavailable(event.eventId)
        return event

    async def accept_many(self, items: list[Any]) -> list[dict[str, Any]]:
        """One result per item, in order; valid items are published concurrently."""
        results: list[dict[str, Any]] = [{} for _ in items]
        indexes: list[int] = []
        events: list[Event] = []
        budget = BATCH_DETAILS
        for index, item in enumerate(items):
            try:
                events.append((await self.check_type(self.validate(item))).to_event())
                indexes.append(index)
            except HttpError as error:
                listed = error.details[:budget]
                budget -= len(listed)
                result = {"index": index, "status": error.status, "error": error.code,
                          "details": listed}
                omitted = error.omitted + len(error.details) - len(listed)
                if omitted:
                    result["detailsOmitted"] = omitted
                results[index] = result
        outcomes = await self._publish(events) if events else []
        for index, event, failure in zip(indexes, events, outcomes, strict=True):
            if failure is None:
                results[index] = {"index": index, "status": 202, "eventId": event.eventId}
            else:
                results[index] = {"index": index, "status": 503,
                                  "error": UNAVAILABLE, "eventId": event.eventId}
        return results
