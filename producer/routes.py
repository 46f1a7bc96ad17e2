"""``POST /v1/events`` and ``POST /v1/events/batch``."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from producer.errors import HttpError, json_response, read_json, validation_details
from producer.ingest import Ingest
from producer.schemas import BatchIn
from producer.settings import ProducerSettings

__all__ = ["event_routes"]


def event_routes(ingest: Ingest, settings: ProducerSettings) -> list[Route]:
    limit = settings.max_body_bytes

    async def post_event(request: Request) -> Response:
        body = ingest.validate(await read_json(request, limit))
        event = await ingest.accept(body)
        return json_response({"eventId": event.eventId}, 202)

    async def post_batch(request: Request) -> Response:
        raw = await read_json(request, limit)
        try:
            batch = BatchIn.model_validate(raw)
        except ValidationError as exc:
            raise HttpError(422, "invalid_batch", 'the body must be {"events": [...]}',
                            validation_details(exc)) from None
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
        return json_response(content, status, headers)

    return [
        Route("/v1/events", post_event, methods=["POST"]),
        Route("/v1/events/batch", post_batch, methods=["POST"]),
    ]
