"""The OpenAPI 3.1 document of the producer's HTTP API, derived from the routes it serves.

The document is built from the rooms' :class:`producer.routing.Declared` routes — the same
list :mod:`producer.app` serves — plus what every route shares: the error answers of
``components.responses`` (:data:`producer.routing.ERROR_RESPONSES`, all with the error schema
``{"error","message","details"?}``), the headers, the security schemes, the tags and the
description. The schemas are those of the pydantic models the operations name (request bodies
in validation mode, answers in serialization mode), collected from the declarations. Served at
``GET /openapi.json`` (:mod:`producer.site.docs`).

To document a route, declare it in its room: there is nothing to add here.
tests/unit/test_openapi_routes.py checks the served document against the served routes, both
ways; tests/e2e/test_openapi_conformance.py runs schemathesis against a live producer, so an
answer the document does not describe (status, content type, body) fails CI.

Answers every route can give are not repeated on each operation: ``404`` for a path nothing
serves, ``405`` (with ``Allow``) for a method a path does not take, and ``500`` are in
``components.responses`` and the description; ``500`` is also listed per operation because
schemathesis would otherwise call it undocumented rather than a server error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

from producer.api_shapes import Error
from producer.routing import ERROR_RESPONSES, Declared, ModelRef, Operation

__all__ = ["DESCRIPTION", "HEADERS", "SECURITY_SCHEMES", "TAGS", "openapi_document"]

_REF = "#/components/schemas/{model}"

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

TAGS: list[Operation] = [
    {"name": "ingest", "description": "Events in."},
    {"name": "seed", "description": "The seed's simulation routes, kept for its "
                                    "clients."},
    {"name": "read", "description": "A user's notification history."},
    {"name": "admin", "description": "Tenants, their limits and API keys "
                                     "(`ADMIN_API_KEY`, or a tenant key with "
                                     "`admin`)."},
    {"name": "tokens", "description": "Short-lived user tokens minted for a "
                                      "tenant's backend."},
    {"name": "event-types", "description": "The tenant's event types, the five built-ins "
                                           "included (`ADMIN_API_KEY` with `?tenantId=`, "
                                           "or a tenant key with `admin`)."},
    {"name": "templates", "description": "Message templates: stored per type and locale, "
                                         "and a preview against sample data "
                                         "(`ADMIN_API_KEY`, or a tenant key with "
                                         "`admin`)."},
    {"name": "users", "description": "A user's profile (locale, time zone) and "
                                     "preferences (per type, quiet hours): the user's "
                                     "token, or a tenant key."},
    {"name": "topics", "description": "Topics: who is subscribed to what, and the progress "
                                      "and cancel of a topic event's fan-out."},
    {"name": "operations", "description": "Probes and metrics."},
    {"name": "pages", "description": "HTML pages and this document."},
    {"name": "sdk", "description": "The JavaScript SDK and web component, as ES "
                                   "modules."},
    {"name": "console", "description": "The operator's console: live figures, dead "
                                       "letters, users, traces (admin key)."},
]
"""The tags Swagger UI groups the operations by, in its order."""

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


def _models(node: Any, found: dict[tuple[type[BaseModel], JsonSchemaMode], None]) -> None:
    """Every :class:`ModelRef` under ``node``, in the order met."""
    if isinstance(node, ModelRef):
        found[(node.model, node.mode)] = None
    elif isinstance(node, dict):
        for value in node.values():
            _models(value, found)
    elif isinstance(node, list | tuple):
        for value in node:
            _models(value, found)


def _resolved(node: Any, refs: Mapping[tuple[Any, JsonSchemaMode], JsonSchemaValue]) -> Any:
    """``node`` as JSON, each :class:`ModelRef` replaced by its ``$ref`` (a copy)."""
    if isinstance(node, ModelRef):
        return dict(refs[(node.model, node.mode)])
    if isinstance(node, dict):
        return {key: _resolved(value, refs) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_resolved(value, refs) for value in node]
    return node


def openapi_document(declared: Iterable[Declared]) -> dict[str, Any]:
    """The whole document of the routes ``declared``, in their order (a new dict each call).
    A path declared twice is a :class:`ValueError`."""
    paths: dict[str, dict[str, Operation]] = {}
    for route in declared:
        if route.path in paths:
            raise ValueError(f"{route.path} is declared twice")
        paths[route.path] = dict(route.operations)
    used: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Error, "serialization"): None}
    _models(paths, used)
    refs, defs = models_json_schema(list(used), ref_template=_REF)
    error_content = {"application/json": {"schema": dict(refs[(Error, "serialization")])}}
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
        "tags": TAGS,
        "paths": _resolved(paths, refs),
        "components": {
            "schemas": defs.get("$defs", {}),
            "responses": responses,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
