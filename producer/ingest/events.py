"""``POST /v1/events`` and ``POST /v1/events/batch``, as body handlers of the fast lane.

The caller needs a key with ``events:write`` (:meth:`producer.door.Door.ingest_principal`;
``401``/``403`` before anything else). The tenant is the key's: an event without
``tenantId`` gets it, one naming another tenant is ``403`` (in a batch, the whole batch).

Each call is charged to its caller's rate limit first (:mod:`producer.ingest.admission`): a single
event costs 1 (before its body is parsed, so malformed floods count too); a batch costs its
number of items, valid or not, once its envelope ``{"events": [...]}`` has been read and its
size checked (an envelope that cannot be read costs nothing: it is answered 400/422 without
any further work). Tokens are not given back when the broker then fails to confirm (503).
"""

from __future__ import annotations

from starlette.types import Scope

from producer.bodies import validate_body
from producer.door import Door, bind_tenant
from producer.errors import HttpError, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.admission import IngestLimiter
from producer.ingest.fastlane import Answer, BodyHandler
from producer.schemas import BatchIn
from producer.settings import ProducerSettings

__all__ = ["event_routes"]


def event_routes(
    ingest: Ingest, settings: ProducerSettings, limiter: IngestLimiter, door: Door
) -> dict[str, BodyHandler]:
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

    return {"/v1/events": post_event, "/v1/events/batch": post_batch}
