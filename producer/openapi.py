"""The OpenAPI 3.1 document of the producer's HTTP API, served at ``GET /openapi.json``.

Built once from the pydantic models (request bodies: :mod:`producer.schemas`; answers:
:mod:`producer.api_shapes`) and the tables below. One function per route group returns its
paths; :data:`SECTIONS` lists the groups. To document a new route, add its entry to its
group's function (or a new function and one line in :data:`SECTIONS`), naming its answers
with :func:`answers`: every error status points at one shared response of
``components.responses``, all with the error schema ``{"error","message","details"?}``.

tests/unit/test_openapi_routes.py fails when a route the app serves (Starlette's router and
the fast lane) and this document disagree, either way; tests/e2e/test_openapi_conformance.py
runs schemathesis against a live producer, so an answer the document does not describe
(status, content type, body) fails CI.

Answers every route can give are not repeated on each operation: ``404`` for a path nothing
serves, ``405`` (with ``Allow``) for a method a path does not take, and ``500`` are in
``components.responses`` and the description; ``500`` is also listed per operation because
schemathesis would otherwise call it undocumented rather than a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from common.models import ID_PATTERN
from producer import api_shapes as shapes
from producer.schemas import (
    BatchIn,
    CommentIn,
    EventIn,
    FollowIn,
    KeyIn,
    LikeIn,
    LimitsIn,
    TenantIn,
    TokenIn,
)

__all__ = ["ERROR_RESPONSES", "SECTIONS", "answers", "openapi_document"]

Operation = dict[str, Any]
PathItems = dict[str, dict[str, Operation]]
"""``{path: {method: operation}}``, the ``paths`` of a route group."""

_REF = "#/components/schemas/{model}"

# --- shared pieces ------------------------------------------------------------------------

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
                           "`invalid_request`); `details[].field` names it.", ()),
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

HEADERS: dict[str, Operation] = {
    "Retry-After": {"description": "Seconds to wait before retrying.",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "RateLimit": {"description": "The caller's remaining quota (IETF draft "
                                 "`RateLimit` header).", "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": "The quota policy (IETF draft `RateLimit-Policy`).",
                         "schema": {"type": "string"}},
    "Allow": {"description": "The methods the path takes.", "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}},
}

SECURITY_SCHEMES: dict[str, Operation] = {
    "bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "`Authorization: Bearer <credential>`: a tenant's API key "
                       "(`hk_…`, made by the admin API or `python -m producer.admin`), the "
                       "bootstrap `ADMIN_API_KEY` (admin API only), a user's JWT (HS256 with "
                       "`JWT_SECRET` or a `JWT_KEYS` kid, RS256 with `JWT_PUBLIC_KEY`; claims "
                       "`sub`, `tid`, `exp`) on the read API, or a key from `READ_API_KEYS`.",
    },
    "apiKeyHeader": {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "`X-API-Key: <key>`: the same API keys, for backends that cannot set "
                       "`Authorization`.",
    },
}

READ_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
"""Who may call the read API: a user's token, or a tenant key with `notifications:read`."""
KEY_SECURITY: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"bearerAuth": []}]
"""Routes that take an API key only (ingest, tokens, admin)."""

ID_SCHEMA: Operation = {"type": "string", "pattern": ID_PATTERN}


def _schema(model: type[BaseModel]) -> Operation:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> Operation:
    return {"application/json": {"schema": _schema(model)}}


def answer(description: str, model: type[BaseModel] | None = None,
           media: str = "application/json", headers: tuple[str, ...] = ()) -> Operation:
    """A success answer: a JSON body of ``model``, or a body of ``media``."""
    content = _json(model) if model is not None else {media: {"schema": {"type": "string"}}}
    response: Operation = {"description": description, "content": content}
    if headers:
        response["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in headers}
    return response


def answers(success: dict[int, Operation], *errors: int) -> dict[str, Operation]:
    """An operation's ``responses``: its successes, the errors it can give and 500."""
    out = {str(status): body for status, body in success.items()}
    for status in (*errors, 500):
        out[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    return out


def body(model: type[BaseModel], description: str, example: Operation) -> Operation:
    """A JSON request body of ``model``, with a valid example (Swagger UI pre-fills it)."""
    content = {"application/json": {"schema": _schema(model), "example": example}}
    return {"required": True, "description": description, "content": content}


def param(name: str, where: Literal["path", "query"], description: str,
          schema: Operation | None = None) -> Operation:
    return {"name": name, "in": where, "required": where == "path",
            "description": description, "schema": schema or ID_SCHEMA}


# --- route groups ---------------------------------------------------------------------------

INGEST_ERRORS = (400, 401, 403, 413, 422, 429, 503)
LIKE_EXAMPLE = {"type": "LIKE", "actorId": "alice", "targetId": "bob", "postId": "p1"}
COMMENT_EXAMPLE = {"type": "COMMENT", "actorId": "carol", "targetIds": ["bob", "dave"],
                   "postId": "p1", "commentId": "c1", "text": "nice"}


def ingest_paths() -> PathItems:
    """``POST /v1/events`` and ``/v1/events/batch`` (producer/ingest/events.py, fast lane)."""
    return {
        "/v1/events": {"post": {
            "tags": ["ingest"], "operationId": "postEvent",
            "summary": "Publish one event",
            "description": "Answered once RabbitMQ has confirmed the event. `eventId` is the "
                           "idempotency key: send the same one again after a 503 or a "
                           "timeout. The body is read as JSON whatever its `Content-Type`.",
            "security": KEY_SECURITY,
            "requestBody": body(EventIn, "The event; exactly one of `targetId` and "
                                         "`targetIds`. `tenantId` may be left out (the "
                                         "key's); another tenant's is 403.", LIKE_EXAMPLE),
            "responses": answers({202: answer("Confirmed by the broker.", shapes.EventAccepted)},
                                 *INGEST_ERRORS),
        }},
        "/v1/events/batch": {"post": {
            "tags": ["ingest"], "operationId": "postEventBatch",
            "summary": "Publish up to MAX_BATCH_EVENTS events",
            "description": "Each event is validated and published on its own; `results` "
                           "answers each, in order.",
            "security": KEY_SECURITY,
            "requestBody": body(BatchIn, "`{\"events\": [...]}`, each item an event as "
                                         "`POST /v1/events` takes it.",
                                {"events": [LIKE_EXAMPLE, COMMENT_EXAMPLE]}),
            "responses": answers({
                202: answer("Every event confirmed.", shapes.BatchAccepted),
                207: answer("Some events refused or not confirmed; see `results`.",
                            shapes.BatchAccepted, headers=("Retry-After",)),
                503: answer("No event confirmed by the broker; retry with the same "
                            "`eventId`s.", shapes.BatchAccepted, headers=("Retry-After",)),
            }, 400, 401, 403, 413, 422, 429),
        }},
    }


def seed_paths() -> PathItems:
    """The seed's simulation routes (producer/ingest/seed.py)."""
    def seed(model: type[BaseModel], what: str, example: Operation) -> dict[str, Operation]:
        return {"post": {
            "tags": ["seed"], "operationId": f"post{model.__name__.removesuffix('In')}",
            "summary": f"Publish a {what} (the seed's body)",
            "security": KEY_SECURITY,
            "requestBody": body(model, f"The seed's {what} body.", example),
            "responses": answers({202: answer("Confirmed by the broker.", shapes.SeedAccepted)},
                                 *INGEST_ERRORS),
        }}

    return {
        "/like": seed(LikeIn, "LIKE", {"actorId": "alice", "targetId": "bob", "postId": "p1",
                                       "type": "LIKE"}),
        "/comment": seed(CommentIn, "COMMENT", {"actorId": "alice", "targetId": "bob",
                                                "postId": "p1", "text": "nice"}),
        "/follow": seed(FollowIn, "FOLLOW", {"actorId": "alice", "targetId": "bob"}),
        "/posts": {"get": {
            "tags": ["seed"], "operationId": "listPosts",
            "summary": "Sample posts to aim simulations at",
            "responses": answers({200: answer("The posts.", shapes.PostList)}),
        }},
    }


def read_paths() -> PathItems:
    """The read API (producer/reads/routes.py)."""
    user = param("userId", "path", "The user whose notifications these are.")
    tenant = param("tenantId", "query", "The tenant: a tenant key's or a token's own (another "
                                        "is 403; absent: theirs); for a `READ_API_KEYS` key, "
                                        "any (`default` when absent).")
    errors = (401, 403, 404, 422)
    return {
        "/v1/users/{userId}/notifications": {"get": {
            "tags": ["read"], "operationId": "listNotifications",
            "summary": "A user's notifications, newest first",
            "security": READ_SECURITY,
            "parameters": [
                user, tenant,
                param("limit", "query", "Page size.",
                      {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
                param("cursor", "query", "`nextCursor` of the previous page.",
                      {"type": "string"}),
            ],
            "responses": answers({200: answer("A page.", shapes.NotificationPage)}, *errors),
        }},
        "/v1/users/{userId}/notifications/unread-count": {"get": {
            "tags": ["read"], "operationId": "countUnread",
            "summary": "Pending plus stored and not read",
            "security": READ_SECURITY,
            "parameters": [user, tenant],
            "responses": answers({200: answer("The count.", shapes.UnreadCount)}, *errors),
        }},
        "/v1/notifications/{notificationId}/read": {"post": {
            "tags": ["read"], "operationId": "markRead",
            "summary": "Mark a notification read (and acknowledge it if still pending)",
            "security": READ_SECURITY,
            "parameters": [
                param("notificationId", "path", "The notification."),
                param("userId", "query", "Whose notification, for an API key (a token's "
                                         "own user otherwise)."),
                tenant,
            ],
            "responses": answers({200: answer("Marked.", shapes.MarkedRead)}, *errors),
        }},
        "/v1/users/{userId}/notifications/read-all": {"post": {
            "tags": ["read"], "operationId": "markAllRead",
            "summary": "Mark every unread notification of a user read",
            "description": "Pending notifications are acknowledged too (as mark-read does); "
                           "stored ones get `readAt`. Idempotent: a second call marks 0.",
            "security": READ_SECURITY,
            "parameters": [user, tenant],
            "responses": answers({200: answer("Marked.", shapes.MarkedAllRead)},
                                 401, 403, 422),
        }},
    }


def user_data_paths() -> PathItems:
    """Erasure and export of one user's data (producer/reads/privacy.py)."""
    user = param("userId", "path", "The user whose data this is.")
    tenant = param("tenantId", "query", "The tenant: a tenant key's or a token's own (another "
                                        "is 403; absent: theirs); for a `READ_API_KEYS` key, "
                                        "any (`default` when absent).")
    errors = (401, 403, 422, 503)
    return {
        "/v1/users/{userId}": {"delete": {
            "tags": ["user data"], "operationId": "eraseUser",
            "summary": "Erase everything Herald holds of a user (GDPR)",
            "description": "Pending notifications, persist-stream entries and stored rows; a "
                           "tombstone keeps replays of older events from notifying again.",
            "security": READ_SECURITY,
            "parameters": [user, tenant],
            "responses": answers({200: answer("Erased; the counts say what went.",
                                              shapes.UserErased)}, *errors),
        }},
        "/v1/users/{userId}/export": {"get": {
            "tags": ["user data"], "operationId": "exportUser",
            "summary": "Everything Herald holds of a user, as JSON",
            "security": READ_SECURITY,
            "parameters": [user, tenant],
            "responses": answers({200: answer("The user's data.", shapes.UserExport)},
                                 *errors),
        }},
    }


def admin_paths() -> PathItems:
    """The admin API (producer/admin/routes.py)."""
    tenant = param("tenantId", "path", "The tenant.")
    key = param("keyId", "path", "The key's id (`keyId` in lists; not the key).",
                {"type": "string", "maxLength": 64})
    errors = (400, 401, 403, 404, 422, 503)

    def op(operation_id: str, summary: str, success: dict[int, Operation], *more: int,
           parameters: list[Operation] | None = None,
           request: Operation | None = None) -> Operation:
        operation: Operation = {"tags": ["admin"], "operationId": operation_id,
                                "summary": summary, "security": KEY_SECURITY,
                                "responses": answers(success, *errors, *more)}
        if parameters:
            operation["parameters"] = parameters
        if request:
            operation["requestBody"] = request
        return operation

    return {
        "/v1/admin/tenants": {
            "post": op("createTenant", "Make a tenant (bootstrap admin key only)",
                       {201: answer("Made.", shapes.TenantOut)}, 409,
                       request=body(TenantIn, "The tenant; limits optional.",
                                    {"tenantId": "acme", "name": "Acme Inc"})),
            "get": op("listTenants", "Every tenant (a tenant's admin key: its own)",
                      {200: answer("The tenants.", shapes.TenantList)}),
        },
        "/v1/admin/tenants/{tenantId}": {
            "get": op("getTenant", "One tenant", {200: answer("The tenant.", shapes.TenantOut)},
                      parameters=[tenant]),
        },
        "/v1/admin/tenants/{tenantId}/limits": {
            "put": op("setTenantLimits", "Set a tenant's rate limit (bootstrap admin key "
                      "only); both null: the producer's defaults",
                      {200: answer("The tenant.", shapes.TenantOut)}, parameters=[tenant],
                      request=body(LimitsIn, "Events per second and burst.",
                                   {"ratePerSecond": 100, "burst": 200})),
        },
        "/v1/admin/tenants/{tenantId}/keys": {
            "post": op("createKey", "Make a key of the tenant (shown once)",
                       {201: answer("The key, with the secret `key`.", shapes.NewKeyOut)},
                       parameters=[tenant],
                       request=body(KeyIn, "Its scopes: `events:write`, "
                                           "`notifications:read`, `tokens:write`, `admin`.",
                                    {"scopes": ["events:write"], "name": "backend"})),
            "get": op("listKeys", "The tenant's keys (by prefix; never the key)",
                      {200: answer("The keys.", shapes.KeyList)}, parameters=[tenant]),
        },
        "/v1/admin/keys/{keyId}/revoke": {
            "post": op("revokeKey", "Refuse the key from now on (every replica within 2 s)",
                       {200: answer("The key, revoked.", shapes.KeyOut)}, parameters=[key]),
        },
        "/v1/admin/keys/{keyId}/rotate": {
            "post": op("rotateKey", "A new key of the same tenant and scopes; the old one "
                       "stays valid until revoked",
                       {201: answer("The new key, with the secret `key`.", shapes.NewKeyOut)},
                       409, parameters=[key]),
        },
    }


def token_paths() -> PathItems:
    """``POST /v1/tokens`` (producer/reads/tokens.py)."""
    return {
        "/v1/tokens": {"post": {
            "tags": ["tokens"], "operationId": "mintToken",
            "summary": "A short-lived token of one user of the key's tenant",
            "description": "Needs a key with `tokens:write`. The token is accepted by the "
                           "gateway's AUTH frame and the read API until `expiresAt`.",
            "security": KEY_SECURITY,
            "requestBody": body(TokenIn, "The user, and how long the token lives.",
                                {"userId": "bob", "ttlSeconds": 900}),
            "responses": answers({200: answer("The token.", shapes.TokenOut)},
                                 400, 401, 403, 422, 501, 503),
        }},
    }


def probe_paths() -> PathItems:
    """``/healthz``, ``/readyz``, ``/metrics`` (common/health.py)."""
    return {
        "/healthz": {"get": {
            "tags": ["operations"], "operationId": "healthz", "summary": "Alive",
            "responses": answers({200: answer("The process answers.", shapes.Health)}),
        }},
        "/readyz": {"get": {
            "tags": ["operations"], "operationId": "readyz",
            "summary": "RabbitMQ, Redis and the store answer",
            "responses": answers({
                200: answer("Ready.", shapes.Readiness),
                503: answer("A dependency does not answer; `checks` names it.",
                            shapes.Readiness),
            }),
        }},
        "/metrics": {"get": {
            "tags": ["operations"], "operationId": "metrics",
            "summary": "Prometheus metrics",
            "responses": answers({200: answer("Prometheus text format.", media="text/plain")}),
        }},
    }


def page_paths() -> PathItems:
    """The demo page (producer/site/pages.py) and this document with its page
    (producer/site/docs.py)."""
    def page(operation_id: str, summary: str) -> dict[str, Operation]:
        return {"get": {"tags": ["pages"], "operationId": operation_id, "summary": summary,
                        "responses": answers({200: answer("The page.", media="text/html")})}}

    return {
        "/": {"get": {
            "tags": ["pages"], "operationId": "index", "summary": "Where to go from here",
            "responses": answers({200: {
                "description": "Links to the demo, the docs and the probes (an HTML page "
                               "when the client accepts text/html).",
                "content": {"application/json": {"schema": _schema(shapes.Index)},
                            "text/html": {"schema": {"type": "string"}}}}}),
        }},
        "/demo": page("demo", "A one-page client that shows notifications arriving"),
        "/docs": page("docs", "This document, browsable (Swagger UI, served by Herald)"),
        "/openapi.json": {"get": {
            "tags": ["pages"], "operationId": "openapi", "summary": "This document",
            "responses": answers({200: {"description": "OpenAPI 3.1.",
                                        "content": {"application/json": {
                                            "schema": {"type": "object"}}}}}),
        }},
    }


def sdk_paths() -> PathItems:
    """The JavaScript SDK and the inbox component (producer/site/sdk.py)."""
    def module(operation_id: str, summary: str) -> dict[str, Operation]:
        return {"get": {
            "tags": ["sdk"], "operationId": operation_id, "summary": summary,
            "description": "An ES module (clients/js); any origin may load it. "
                           "`If-None-Match` with its ETag answers `304`.",
            "responses": answers({
                200: answer("The module.", media="text/javascript"),
                304: {"description": "Not changed since the ETag sent."},
            }, 404),
        }}

    return {
        "/sdk/herald.js": module("sdkModule", "The JavaScript SDK (connect, ReadApi)"),
        "/sdk/herald-inbox.js": module("inboxModule",
                                       "The <herald-inbox> web component (imports herald.js)"),
    }


SECTIONS: tuple[Callable[[], PathItems], ...] = (
    ingest_paths,
    seed_paths,
    read_paths,
    user_data_paths,
    probe_paths,
    page_paths,
    sdk_paths,
    admin_paths,
    token_paths,
)



def _console_paths() -> PathItems:
    """The operator's console and its admin API (producer/admin/console/)."""
    from producer.admin.console.openapi_paths import console_paths  # it builds on this module

    return console_paths()


SECTIONS = (*SECTIONS, _console_paths)

REQUEST_MODELS: tuple[type[BaseModel], ...] = (EventIn, BatchIn, LikeIn, CommentIn, FollowIn,
                                               TenantIn, LimitsIn, KeyIn, TokenIn)
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    shapes.Error, shapes.EventAccepted, shapes.SeedAccepted, shapes.BatchAccepted,
    shapes.PostList, shapes.NotificationPage, shapes.UnreadCount, shapes.MarkedRead,
    shapes.MarkedAllRead, shapes.Health, shapes.Readiness, shapes.UserErased, shapes.UserExport,
    shapes.Index, shapes.TenantOut, shapes.TenantList, shapes.KeyOut, shapes.KeyList,
    shapes.NewKeyOut, shapes.TokenOut,
)

DESCRIPTION = """\
Herald's producer: apps send events here; Herald turns them into notifications delivered \
over WebSocket (the gateway's protocol is in the README).

Ingest, tokens and the admin API take an API key (`X-API-Key: <key>` or `Authorization: \
Bearer <key>`); the read API a key with `notifications:read` or a user's token. The tenant \
is the key's. In `AUTH_MODE=trusted` ingest and reads are open (demos only).

Every error is JSON: `{"error": "<code>", "message": "…", "details": [{"field", "message", \
"type"}]}`. Any path answers `404` when nothing is served there, `405` (with `Allow`) to a \
method it does not take, and `500` on an unexpected error.

CORS is off unless `CORS_ALLOWED_ORIGINS` names the origins a browser app may call from."""


def _version() -> str:
    try:
        return metadata.version("herald")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (computed once; the caller must not change it)."""
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((m, "validation") for m in REQUEST_MODELS),
        *((m, "serialization") for m in ANSWER_MODELS),
    ]
    from producer.admin.console import openapi_paths as console

    modes += [*((m, "validation") for m in console.REQUEST_MODELS),
              *((m, "serialization") for m in console.ANSWER_MODELS)]
    _, defs = models_json_schema(modes, ref_template=_REF)
    paths: PathItems = {}
    for section in SECTIONS:
        group = section()
        overlap = paths.keys() & group.keys()
        if overlap:
            raise ValueError(f"{section.__name__} documents {sorted(overlap)} again")
        paths.update(group)
    error_content = _json(shapes.Error)
    responses = {
        name: {"description": when, "content": error_content,
               **({"headers": {h: {"$ref": f"#/components/headers/{h}"} for h in headers}}
                  if headers else {})}
        for name, when, headers in ERROR_RESPONSES.values()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Herald producer API", "version": _version(),
                 "description": DESCRIPTION, "license": {"name": "MIT", "identifier": "MIT"}},
        "tags": [
            {"name": "ingest", "description": "Events in."},
            {"name": "seed", "description": "The seed's simulation routes, kept for its "
                                            "clients."},
            {"name": "read", "description": "A user's notification history."},
            {"name": "admin", "description": "Tenants, their limits and API keys "
                                             "(`ADMIN_API_KEY`, or a tenant key with "
                                             "`admin`)."},
            {"name": "tokens", "description": "Short-lived user tokens minted for a "
                                              "tenant's backend."},
            {"name": "operations", "description": "Probes and metrics."},
            {"name": "pages", "description": "HTML pages and this document."},
            {"name": "sdk", "description": "The JavaScript SDK and web component, as ES "
                                           "modules."},
            {"name": "console", "description": "The operator's console: live figures, dead "
                                               "letters, users, traces (admin key)."},
        ],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "responses": responses,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
