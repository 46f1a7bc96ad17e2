"""``POST /v1/events`` and ``POST /v1/events/batch``, as body handlers of the fast lane.

The caller needs a key with ``events:write`` (:meth:`producer.door.Door.ingest_principal`;
``401``/``403`` before anything else). The tenant is the key's: an event without
``tenantId`` gets it, one naming another tenant is ``403`` (in a batch, the whole batch); so
is a broadcast (``"topic": "*"``) from a key without ``events:broadcast``.

Each call is charged to its caller's rate limit first (:mod:`producer.ingest.admission`): a single
event costs 1 (before its body is parsed, so malformed floods count too); a batch costs its
number of items, valid or not, once its envelope ``{"events": [...]}`` has been read and its
size checked (an envelope that cannot be read costs nothing: it is answered 400/422 without
any further work). Tokens are not given back when the broker then fails to confirm (503).
"""

from __future__ import annotations

from starlette.types import Scope

from producer import api_shapes as shapes
from producer.bodies import validate_body
from producer.door import Door, bind_tenant
from producer.errors import HttpError, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.admission import IngestLimiter
from producer.routing import KEY_SECURITY, Answer, Declared, Operation, answer, answers
from producer.routing import body as request_body
from producer.schemas import BatchIn, EventIn
from producer.settings import ProducerSettings

__all__ = ["COMMENT_EXAMPLE", "INGEST_ERRORS", "LIKE_EXAMPLE", "event_routes"]

INGEST_ERRORS = (400, 401, 403, 413, 422, 429, 503)
"""What an ingest call may be answered besides its success (the seed's routes too)."""
LIKE_EXAMPLE: Operation = {"type": "LIKE", "actorId": "alice", "targetId": "bob",
                           "postId": "p1"}
COMMENT_EXAMPLE: Operation = {"type": "COMMENT", "actorId": "carol",
                              "targetIds": ["bob", "dave"], "postId": "p1",
                              "commentId": "c1", "text": "nice"}


def event_routes(
    ingest: Ingest, settings: ProducerSettings, limiter: IngestLimiter, door: Door
) -> list[Declared]:
    async def post_event(body: bytes, scope: Scope) -> Answer:
        principal = await door.ingest_principal(scope["headers"])
        limits = await limiter.admit_request(scope, 1, principal)
        raw = bind_tenant(parse_json(body), principal)
        event = await ingest.accept(ingest.validate(raw))
        return 202, {"eventId": event.eventId}, limits

    async def post_batch(body: bytes, scope: Scope) -> Answer:
        principal = await door.ingest_principal(scope["headers"])
        batch = validate_body(BatchIn, parse_json(body), "invalid_batch",
                              'the body must be {"events": [...]}')
        if len(batch.events) > settings.max_batch_events:
            raise HttpError(422, "batch_too_large",
                            f"at most {settings.max_batch_events} events per batch",
                            [{"field": "events", "message": f"{len(batch.events)} given"}])
        limits = await limiter.admit_request(scope, len(batch.events), principal)
        events = [bind_tenant(item, principal) for item in batch.events]
        results = await ingest.accept_many(events)
        accepted = sum(1 for r in results if r["status"] == 202)
        unavailable = sum(1 for r in results if r["status"] == 503)
        if accepted == len(results):
            status = 202
        elif unavailable and not accepted:
            status = 503
        else:
            status = 207
        headers = dict(limits)
        if unavailable:
            headers.update(ingest.unavailable().headers or {})
        content = {"accepted": accepted, "rejected": len(results) - accepted,
                   "results": results}
        return status, content, headers or None

    return [
        Declared("/v1/events", {"post": {
            "tags": ["ingest"], "operationId": "postEvent",
            "summary": "Publish one event",
            "description": "Answered once RabbitMQ has confirmed the event. `eventId` is the "
                           "idempotency key: send the same one again after a 503 or a "
                           "timeout. The body is read as JSON whatever its `Content-Type`.",
            "security": KEY_SECURITY,
            "requestBody": request_body(EventIn, "The event; exactly one of `targetId`, "
                                         "`targetIds` and `topic` (`*`, a broadcast, needs "
                                         "`events:broadcast`: 403 without). `tenantId` may "
                                         "be left out (the key's); another tenant's is 403.",
                                         LIKE_EXAMPLE),
            "responses": answers({202: answer("Confirmed by the broker.",
                                              shapes.EventAccepted)}, *INGEST_ERRORS),
        }}, body_handler=post_event),
        Declared("/v1/events/batch", {"post": {
            "tags": ["ingest"], "operationId": "postEventBatch",
            "summary": "Publish up to MAX_BATCH_EVENTS events",
            "description": "Each event is validated and published on its own; `results` "
                           "answers each, in order.",
            "security": KEY_SECURITY,
            "requestBody": request_body(BatchIn, "`{\"events\": [...]}`, each item an event as "
                                         "`POST /v1/events` takes it.",
                                {"events": [LIKE_EXAMPLE, COMMENT_EXAMPLE]}),
            "responses": answers({
                202: answer("Every event confirmed.", shapes.BatchAccepted),
                207: answer("Some events refused or not confirmed; see `results`.",
                            shapes.BatchAccepted, headers=("Retry-After",)),
                503: answer("No event confirmed by the broker; retry with the same "
                            "`eventId`s.", shapes.BatchAccepted, headers=("Retry-After",)),
            }, 400, 401, 403, 413, 422, 429),
        }}, body_handler=post_batch),
    ]
