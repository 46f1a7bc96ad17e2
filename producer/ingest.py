"""Turns validated bodies into published events: shared by the v1 and the seed routes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError

from common.logs import get_logger
from common.models import Event
from producer.errors import HttpError, validation_details
from producer.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, PUBLISH_FAILURES, PUBLISH_SECONDS
from producer.publisher import Publisher, PublishUnavailable
from producer.schemas import EventIn

__all__ = ["Ingest"]

log = get_logger(__name__)


class Ingest:
    def __init__(self, publisher: Publisher, retry_after_seconds: int) -> None:
        self._publisher = publisher
        self._retry_after = str(retry_after_seconds)

    def unavailable(self, event_id: str | None = None) -> HttpError:
        message = "the broker did not confirm the event; retry later with the same eventId"
        details = [{"field": "eventId", "value": event_id}] if event_id else None
        return HttpError(503, "broker_unavailable", message, details,
                         headers={"Retry-After": self._retry_after})

    @staticmethod
    def validate(body: Any) -> EventIn:
        try:
            return EventIn.model_validate(body)
        except ValidationError as exc:
            EVENTS_REJECTED.labels("invalid").inc()
            raise HttpError(422, "invalid_event", "the event is not valid",
                            validation_details(exc)) from None

    async def publish(self, event: Event) -> None:
        """Publish and wait for the confirm; 503 (as :class:`HttpError`) if none comes."""
        started = time.perf_counter()
        try:
            await self._publisher.publish(event)
        except PublishUnavailable as exc:
            PUBLISH_FAILURES.inc()
            log.warning("publish not confirmed", eventId=event.eventId, error=str(exc))
            raise self.unavailable(event.eventId) from None
        PUBLISH_SECONDS.observe(time.perf_counter() - started)
        EVENTS_ACCEPTED.labels(event.type.value).inc()

    async def accept(self, body: EventIn) -> Event:
        event = body.to_event()
        await self.publish(event)
        return event

    async def accept_many(self, items: list[Any]) -> list[dict[str, Any]]:
        """One result per item, in order; valid items are published concurrently."""
        results: list[dict[str, Any]] = [{} for _ in items]
        pending: list[tuple[int, Event]] = []
        for index, item in enumerate(items):
            try:
                pending.append((index, self.validate(item).to_event()))
            except HttpError as error:
                results[index] = {"index": index, "status": error.status, "error": error.code,
                                  "details": error.details}
        outcomes = await asyncio.gather(
            *(self.publish(event) for _, event in pending), return_exceptions=True
        )
        for (index, event), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, HttpError):
                results[index] = {"index": index, "status": outcome.status,
                                  "error": outcome.code, "eventId": event.eventId}
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results[index] = {"index": index, "status": 202, "eventId": event.eventId}
        return results
