"""The seed's simulation routes, kept so its Postman collections and load scripts still work.

``POST /like``, ``/comment`` and ``/follow`` take the seed's bodies and publish the same event
``POST /v1/events`` would (answered ``202 {"eventId"}``); ``GET /posts`` lists sample posts to
aim them at.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from producer import api_shapes as shapes
from producer.bodies import validate_body
from producer.door import Door, bind_tenant
from producer.errors import invalid, json_response, parse_json
from producer.ingest.accept import Ingest
from producer.ingest.admission import IngestLimiter
from producer.ingest.events import INGEST_ERRORS
from producer.routing import KEY_SECURITY, Answer, BodyHandler, Declared, Operation, answer, answers
from producer.routing import body as request_body
from producer.schemas import CommentIn, FollowIn, LikeIn

__all__ = ["SAMPLE_POSTS", "seed_routes"]

SAMPLE_POSTS = [
    {"postId": "p1", "authorId": "u1", "text": "Hello from Herald"},
    {"postId": "p2", "authorId": "u2", "text": "Notifications, in real time"},
    {"postId": "p3", "authorId": "u3", "text": "Like, comment, follow"},
]

SeedBody = type[LikeIn] | type[CommentIn] | type[FollowIn]


EXAMPLES: dict[SeedBody, tuple[str, Operation]] = {
    LikeIn: ("LIKE", {"actorId": "alice", "targetId": "bob", "postId": "p1", "type": "LIKE"}),
    CommentIn: ("COMMENT", {"actorId": "alice", "targetId": "bob", "postId": "p1",
                            "text": "nice"}),
    FollowIn: ("FOLLOW", {"actorId": "alice", "targetId": "bob"}),
}
"""Each seed body, what it publishes and a valid example of it."""


def seed_routes(ingest: Ingest, limiter: IngestLimiter, door: Door) -> list[Declared]:
    """The seed's POST routes, as body handlers of the fast lane; each needs a key with
    ``events:write`` and costs one token of its rate limit, as ``POST /v1/events`` does.
    And ``GET /posts``."""

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

    def declared(model: SeedBody) -> Declared:
        name = model.__name__.removesuffix("In")
        what, example = EXAMPLES[model]
        return Declared("/" + name.lower(), {"post": {
            "tags": ["seed"], "operationId": f"post{name}",
            "summary": f"Publish a {what} (the seed's body)",
            "security": KEY_SECURITY,
            "requestBody": request_body(model, f"The seed's {what} body.", example),
            "responses": answers({202: answer("Confirmed by the broker.", shapes.SeedAccepted)},
                                 *INGEST_ERRORS),
        }}, body_handler=handler(model))

    async def posts(request: Request) -> Response:
        return json_response({"posts": SAMPLE_POSTS})

    return [
        *(declared(model) for model in (LikeIn, CommentIn, FollowIn)),
        Declared("/posts", {"get": {
            "tags": ["seed"], "operationId": "listPosts",
            "summary": "Sample posts to aim simulations at",
            "responses": answers({200: answer("The posts.", shapes.PostList)}),
        }}, endpoint=posts),
    ]
