"""A route declared once: its path, what serves it, and its OpenAPI operations, together.

Each room (:mod:`producer.ingest`, :mod:`producer.reads`, :mod:`producer.admin`,
:mod:`producer.site`) returns :class:`Declared` routes; :mod:`producer.app` serves them
(Starlette, or the fast lane for a body handler) and :mod:`producer.openapi` derives the
document from the very same list, so a route and its document entry cannot drift.

The helpers below write an operation's pieces. A body or answer names its pydantic model
with :class:`ModelRef` (not a ``$ref`` string): the builder collects the models from the
declarations, makes ``components.schemas`` of them and replaces each reference, so a model
in the document is there because a route uses it. Every error status names one shared
response of ``components.responses`` (:data:`ERROR_RESPONSES`), all with the error schema.

This module imports no room and no builder: rooms and the builder import it, nothing back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from common.models import ID_PATTERN

__all__ = [
    "ERROR_RESPONSES",
    "ID_SCHEMA",
    "KEY_SECURITY",
    "READ_SECURITY",
    "Answer",
    "BodyHandler",
    "Declared",
    "Endpoint",
    "ModelRef",
    "Operation",
    "answer",
    "answers",
    "body",
    "by_method",
    "param",
    "schema_of",
]

Operation = dict[str, Any]
"""One OpenAPI operation (or a piece of one), as JSON, with :class:`ModelRef` for schemas."""

Endpoint = Callable[[Request], Awaitable[Response]]
"""A Starlette endpoint."""

Answer = tuple[int, Any, Mapping[str, str] | None]
"""What a fast-lane body handler returns: ``(status, JSON content, headers)``."""
BodyHandler = Callable[[bytes, Scope], Awaitable[Answer]]
"""A fast-lane handler (:class:`producer.ingest.fastlane.FastLane`): the body and the scope."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A schema of ``model`` in the document, as a request (``validation``) or an answer
    (``serialization``) shows it; the builder turns it into a ``$ref``."""

    model: type[BaseModel]
    mode: JsonSchemaMode


@dataclass(frozen=True, slots=True)
class Declared:
    """One path: its operations (``{"get": operation}``, method lower-case, as the document
    writes them) and what serves it — a Starlette ``endpoint`` taking every declared method,
    or a fast-lane ``body_handler`` (``POST`` only). Exactly one of the two."""

    path: str
    operations: Mapping[str, Operation]
    endpoint: Endpoint | None = None
    body_handler: BodyHandler | None = None

    def __post_init__(self) -> None:
        if (self.endpoint is None) == (self.body_handler is None):
            raise ValueError(f"{self.path}: give an endpoint or a body handler, not both")
        if self.body_handler is not None and set(self.operations) != {"post"}:
            raise ValueError(f"{self.path}: the fast lane serves POST only")
        if not self.operations:
            raise ValueError(f"{self.path}: no operation declared")

    @property
    def methods(self) -> list[str]:
        return [method.upper() for method in self.operations]

    def route(self) -> Route:
        """The Starlette route (for a route with an ``endpoint``)."""
        assert self.endpoint is not None, f"{self.path} is served by the fast lane"
        return Route(self.path, self.endpoint, methods=self.methods)


ERROR_RESPONSES: dict[int, tuple[str, str, tuple[str, ...]]] = {
    # status: (name in components.responses, when, headers it carries)
    400: ("BadRequest", "The body is empty or not JSON (`invalid_json`).", ()),
    401: ("Unauthorized", "No credential, or one that does not verify (`unauthorized`).",
          ("WWW-Authenticate",)),
    403: ("Forbidden", "The credential may not do this, e.g. a user's token reading another "
                       "user (`forbidden`).", ()),
    404: ("NotFound", "Nothing here (`not_found`): no such resource for this caller, or a "
                      "path parameter that is not a path segment.", ()),
    409: ("Conflict", "The resource exists already, or is in a state that refuses this "
                      "(`conflict`), e.g. rotating a revoked key.", ()),
    405: ("MethodNotAllowed", "The path does not take this method (`method_not_allowed`); "
                              "`Allow` names those it takes.", ("Allow",)),
    413: ("PayloadTooLarge", "The body is over `MAX_BODY_BYTES` (`body_too_large`).", ()),
    422: ("Unprocessable", "A field is missing, unknown, of the wrong type or breaks a rule "
                           "(`invalid_event`, `invalid_batch`, `batch_too_large`, "
                           "`invalid_request`, `invalid_template`, `unknown_type`); "
                           "`details[].field` "
                           "names it.", ()),
    429: ("TooManyRequests", "Over the caller's rate limit (`rate_limited`); retry after "
                            "`Retry-After` seconds.",
          ("Retry-After", "RateLimit", "RateLimit-Policy")),
    500: ("InternalError", "An unexpected server error (`internal_error`); it is logged.", ()),
    501: ("NotImplemented", "This Herald is not configured for this (`not_configured`), e.g. "
                            "minting tokens with only `JWT_PUBLIC_KEY` set.", ()),
    503: ("ServiceUnavailable", "A dependency did not answer in time (`broker_unavailable`: "
                                "RabbitMQ did not confirm; `details[0].value` is the "
                                "`eventId` to retry with).", ("Retry-After",)),
}

READ_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
"""Who may call the read API: a user's token, or a tenant key with `notifications:read`."""
KEY_SECURITY: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"bearerAuth": []}]
"""Routes that take an API key only (ingest, tokens, admin)."""

ID_SCHEMA: Operation = {"type": "string", "pattern": ID_PATTERN}


def schema_of(model: type[BaseModel], mode: JsonSchemaMode = "serialization") -> ModelRef:
    return ModelRef(model, mode)


def _json(model: type[BaseModel]) -> Operation:
    return {"application/json": {"schema": schema_of(model)}}


def answer(description: str, model: type[BaseModel] | None = None,
           media: str = "application/json", headers: tuple[str, ...] = ()) -> Operation:
    """A success answer: a JSON body of ``model``, or a body of ``media``."""
    content = _json(model) if model is not None else {media: {"schema": {"type": "string"}}}
    response: Operation = {"description": description, "content": content}
    if headers:
        response["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in headers}
    return response


def by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    """One endpoint for a path's methods (one route per path, so a 405's ``Allow`` names
    every method it takes); ``HEAD`` is served as ``GET``."""
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)
    return endpoint


def answers(success: dict[int, Operation], *errors: int) -> dict[str, Operation]:
    """An operation's ``responses``: its successes, the errors it can give and 500."""
    out = {str(status): body for status, body in success.items()}
    for status in (*errors, 500):
        out[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    return out


def body(model: type[BaseModel], description: str, example: Operation) -> Operation:
    """A JSON request body of ``model``, with a valid example (Swagger UI pre-fills it)."""
    content = {"application/json": {"schema": schema_of(model, "validation"),
                                    "example": example}}
    return {"required": True, "description": description, "content": content}


def param(name: str, where: Literal["path", "query"], description: str,
          schema: Operation | None = None) -> Operation:
    return {"name": name, "in": where, "required": where == "path",
            "description": description, "schema": schema or ID_SCHEMA}
