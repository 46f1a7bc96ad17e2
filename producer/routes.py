"""``POST /v1/events`` and ``POST /v1/events/batch``, as body handlers of the fast lane."""

from __future__ import annotations

from producer.bodies import validate_body
from producer.errors import HttpError, parse_json
from producer.fastlane import Answer, BodyHandler
from producer.ingest import Ingest
from producer.schemas import BatchIn
from producer.settings import ProducerSettings

__all__ = ["event_routes"]


def event_routes(ingest: Ingest, settings: ProducerSettings) -> dict[str, BodyHandler]:
    async def post_event(body: bytes) -> Answer:
        event = await ingest.accept(ingest.validate(parse_json(body)))
        return 202, {"eventId": event.eventId}, None

    async def post_batch(body: bytes) -> Answer:
        batch = validate_body(BatchIn, parse_json(body), "invalid_batch",
                              'the body must be {"events": [...]}')
        if len(batch.events) > settings.max_batch_events:
            raise HttpError(422, "batch_too_large",
                            f"at most {settings.max_batch_events} events per batch",
                            [{"field": "events", "message": f"{len(batch.events)} given"}])
        results = await ingest.accept_many(batch.events)
        accepted = sum(1 for r in results if r["status"] == 202)
        unavailable = sum(1 for r in results if r["status"] == 503)
        if accepted == len(results):
            status = 202
        elif unavailable and not accepted:
            status = 503
        else:
            status = 207
        headers = ingest.unavailable().headers if unavailable else None
        content = {"accepted": accepted, "rejected": len(results) - accepted,
                   "results": results}
        return status, content, headers

    return {"/v1/events": post_event, "/v1/events/batch": post_batch}
