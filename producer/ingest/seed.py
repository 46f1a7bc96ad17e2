"""The seed's simulation routes, kept so its Postman collections and load scripts still work.

``POST /like``, ``/comment`` and ``/follow`` take the seed's bodies and publish the same event
``POST /v1/events`` would (answered ``202 {"eventId"}``); ``GET /posts`` lists sample posts to
aim them at.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from producer.bodies import validate_body
from producer.door import Door, bind_tenant
from producer.errors import invalid, json_response, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.admission import IngestLimiter
from producer.ingest.fastlane import Answer, BodyHandler
from producer.schemas import CommentIn, FollowIn, LikeIn

__all__ = ["SAMPLE_POSTS", "posts_route", "seed_routes"]

SAMPLE_POSTS = [
    {"postId": "p1", "authorId": "u1", "text": "Hello from Herald"},
    {"postId": "p2", "authorId": "u2", "text": "Notifications, in real time"},
    {"postId": "p3", "authorId": "u3", "text": "Like, comment, follow"},
]

SeedBody = type[LikeIn] | type[CommentIn] | type[FollowIn]


def seed_routes(ingest: Ingest, limiter: IngestLimiter, door: Door) -> dict[str, BodyHandler]:
    """The seed's POST routes, as body handlers of the fast lane; each needs a key with
    ``events:write`` and costs one token of its rate limit, as ``POST /v1/events`` does."""

    def handler(model: SeedBody) -> BodyHandler:
        async def endpoint(body: bytes, scope: Scope) -> Answer:
            principal = await door.ingest_principal(scope["headers"])
            limits = await limiter.admit_request(scope, 1, principal)
            seed: LikeIn | CommentIn | FollowIn = validate_body(
                model, bind_tenant(parse_json(body), principal), "invalid_event",
                "the event is not valid")
            try:
                event_in = seed.to_event_in()
            except ValidationError as exc:
                raise invalid("invalid_event", "the event is not valid", exc) from None
            event = await ingest.accept(event_in)
            return 202, {"eventId": event.eventId, "status": "accepted"}, limits

        return endpoint

    return {"/" + model.__name__.removesuffix("In").lower(): handler(model)
            for model in (LikeIn, CommentIn, FollowIn)}


def posts_route() -> Route:
    async def posts(request: Request) -> Response:
        return json_response({"posts": SAMPLE_POSTS})

    return Route("/posts", posts, methods=["GET"])
