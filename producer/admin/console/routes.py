"""The console's admin API (``/v1/admin/...``) and its pages (``/console``).

Every admin route calls :func:`producer.admin.console.auth.require_admin` first: no key → 401, a
wrong one → 403, and nothing is read. Ids in paths and queries obey the id rule (422).
Redis not answering → 503 ``dependency_unavailable`` naming it; RabbitMQ (dead letters) →
503 naming ``rabbitmq``.

The pages' "Types & templates" (``#catalog``) has no admin route of its own: with the same
key it calls :mod:`producer.catalog`'s ``/v1/event-types``, ``/v1/templates`` (naming the
tenant with ``?tenantId=``, as the Users page does) and ``POST /v1/templates/preview``; its
"Fan-outs" (``#fanouts``) likewise calls :mod:`producer.topics.fanouts`'s
``GET``/``DELETE /v1/fanouts/{eventId}?tenantId=``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aio_pika.exceptions import AMQPError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.responses import Response

from common import dead_letter_queue as dlq
from common.build_info import build_info
from common.models import EventType
from common.naming import Names
from common.telemetry.reader import read_snapshots, read_trace, user_presence
from producer.admin.console import shapes
from producer.admin.console.auth import require_admin
from producer.admin.console.live import aggregate
from producer.admin.console.shapes import DeadLetterChoice, TestNotificationIn
from producer.bodies import validate_body
from producer.door import Door
from producer.errors import HttpError, dependency_unavailable, json_response, parse_json
from producer.ingest.accept import Ingest
from producer.reads.history import History, to_json
from producer.reads.routes import check_id
from producer.routing import (
    ID_SCHEMA,
    READ_SECURITY,
    Declared,
    Endpoint,
    Operation,
    answer,
    answers,
    param,
)
from producer.routing import body as request_body

__all__ = ["ASSETS", "Console", "console_routes"]

ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
"""The page's own files, served at ``/console/{asset}`` (nothing from another host)."""
CONSOLE_ACTOR = "herald-console"
MAX_LIST = 500
BODY_CHARS = 4096
_DIGITS = re.compile(r"[0-9]{1,4}")
_REASON = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True, slots=True)
class Console:
    """What the admin routes work with."""

    door: Door
    names: Names
    rabbitmq_url: str
    history: History
    ingest: Ingest
    redis: Redis
    redis_memory: Callable[[], dict[str, Any] | None] = lambda: None
    """Redis's memory as this producer last read it (``/readyz``'s ``redisMemory``)."""


ADMIN_SECURITY = READ_SECURITY
"""The operator's key, as a bearer token or ``X-API-Key``."""
AUTH = (401, 403)
ADMIN_NOTE = ("Needs the operator's key, `Authorization: Bearer <ADMIN_API_KEY>` (or "
              "`X-API-Key`): none → 401, another credential (a tenant's key too) → 403.")


def _admin(console: Console, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        require_admin(request, console.door)
        try:
            return await endpoint(request)
        except (RedisConnectionError, RedisTimeoutError):
            raise dependency_unavailable("redis") from None
        except (AMQPError, ConnectionError, OSError, TimeoutError) as exc:
            if request.url.path.startswith("/v1/admin/dead-letters"):
                raise dependency_unavailable("rabbitmq") from exc
            raise

    return guarded


def _limit(request: Request, default: int, most: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= most:
        raise HttpError(422, "invalid_request", f"limit must be 1 to {most}",
                        [{"field": "limit", "message": f"got {raw[:20]!r}"}])
    return int(raw)


def _tenant(request: Request) -> str:
    return check_id("tenantId", request.query_params.get("tenantId", "default"))


def _page(name: str) -> str:
    return resources.files("producer.admin.console").joinpath(f"static/{name}").read_text("utf-8")


def console_routes(console: Console) -> list[Declared]:
    redis = console.redis
    names = console.names
    page = _page("index.html")
    assets = {name: _page(name) for name in ASSETS}

    async def shell(request: Request) -> Response:
        return Response(page, media_type="text/html",
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})

    async def asset(request: Request) -> Response:
        name = request.path_params["asset"]
        if name not in assets:
            raise HttpError(404, "not_found", "no such file")
        return Response(assets[name], media_type=ASSETS[name],
                        headers={"Cache-Control": "no-cache"})

    async def stats(request: Request) -> Response:
        snapshots = await read_snapshots(redis, names)
        return json_response({**aggregate(snapshots, int(time.time() * 1000)),
                              "build": build_info().as_dict(),
                              "redisMemory": console.redis_memory()})

    async def list_dead_letters(request: Request) -> Response:
        reason = request.query_params.get("reason") or None
        if reason is not None and not _REASON.fullmatch(reason):
            raise HttpError(422, "invalid_request", "reason is lower-case letters and _",
                            [{"field": "reason", "message": f"got {reason[:40]!r}"}])
        limit = _limit(request, 50, MAX_LIST)
        rows = await dlq.browse(console.rabbitmq_url, names,
                                dlq.Selection(reason=reason, limit=limit), BODY_CHARS)
        return json_response({"deadLetters": rows})

    def settle(replay: bool) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            choice = validate_body(DeadLetterChoice, parse_json(await request.body()),
                                   "invalid_request", "say which dead letters: ids or reason")
            selection = dlq.Selection(ids=frozenset(choice.ids or ()), reason=choice.reason,
                                      limit=min(choice.limit, len(choice.ids))
                                      if choice.ids else choice.limit)
            done = await dlq.settle(console.rabbitmq_url, names, selection, replay)
            found = {d["id"] for d in done}
            return json_response({"replayed" if replay else "purged": done,
                                  "notFound": [i for i in choice.ids or () if i not in found]})
        return endpoint

    async def user(request: Request) -> Response:
        user_id = check_id("userId", request.path_params["userId"])
        tenant = _tenant(request)
        connections = await user_presence(redis, names, tenant, user_id)
        pending = await console.history.pending(tenant, user_id)
        records, _ = await console.history.page(tenant, user_id, 20, None)
        return json_response({"userId": user_id, "tenantId": tenant,
                              "connections": connections, "pending": pending,
                              "notifications": [to_json(r) for r in records]})

    async def test_notification(request: Request) -> Response:
        user_id = check_id("userId", request.path_params["userId"])
        tenant = _tenant(request)
        raw = await request.body()
        text = validate_body(TestNotificationIn, parse_json(raw) if raw.strip() else {},
                             "invalid_request", "the body is not valid").text
        event = await console.ingest.accept(console.ingest.validate({
            "type": EventType.SYSTEM.value, "actorId": CONSOLE_ACTOR, "targetId": user_id,
            "tenantId": tenant, "text": text}))
        return json_response({"eventId": event.eventId}, 202)

    async def trace(request: Request) -> Response:
        event_id = check_id("eventId", request.path_params["eventId"])
        stages = await read_trace(redis, names, event_id)
        if not stages:
            raise HttpError(404, "not_found", "no trace of this event: unknown, older than "
                                              "TRACE_TTL_SECONDS, or tracing is off")
        return json_response({"eventId": event_id, "stages": stages})

    def admin(path: str, method: str, endpoint: Endpoint, operation_id: str, summary: str,
              responses: dict[str, Operation], **more: Operation | list[Operation]
              ) -> Declared:
        return Declared(path, {method: {
            "tags": ["console"], "operationId": operation_id, "summary": summary,
            "description": ADMIN_NOTE, "security": ADMIN_SECURITY, "responses": responses,
            **more}}, endpoint=_admin(console, endpoint))

    user_param = param("userId", "path", "The user.")
    tenant_param = param("tenantId", "query", "The user's tenant; `default` when absent.")
    choice = request_body(DeadLetterChoice, "`ids` as listed, or every message with `reason`.",
                          {"ids": ["ev-1"]})
    return [
        Declared("/console", {"get": {
            "tags": ["pages"], "operationId": "console",
            "summary": "The operator's console (sign in with the admin key; holds no data)",
            "responses": answers({200: answer("The page.", media="text/html")}),
        }}, endpoint=shell),
        Declared("/console/{asset}", {"get": {
            "tags": ["pages"], "operationId": "consoleAsset",
            "summary": "The console's script and style sheet",
            "parameters": [param("asset", "path", "`console.js` or `console.css`.",
                                 {"type": "string"})],
            "responses": answers({200: {"description": "The file.", "content": {
                media: {"schema": {"type": "string"}} for media in ASSETS.values()}}}, 404),
        }}, endpoint=asset),
        admin("/v1/admin/stats", "get", stats,
              "adminStats", "Live figures aggregated over every live replica",
              answers({200: answer("The figures.", shapes.LiveStats)}, *AUTH, 503)),
        admin("/v1/admin/dead-letters", "get", list_dead_letters,
              "listDeadLetters", "Browse the dead-letter queue (nothing is removed)",
              answers({200: answer("Dead letters, oldest first.", shapes.DeadLetterList)},
                      *AUTH, 422, 503),
              parameters=[
                  param("reason", "query", "Only this reason (`invalid`, `rate_limited`, "
                                           "`semantic_duplicate`, `unknown_type`, "
                                           "`template_failed`, `delivery_limit`).",
                        {"type": "string", "pattern": shapes.REASON_PATTERN}),
                  param("limit", "query", "At most this many.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIST, "default": 50}),
              ]),
        admin("/v1/admin/dead-letters/replay", "post", settle(True),
              "replayDeadLetters", "Publish chosen dead letters back to the events exchange",
              answers({200: answer("What was replayed.", shapes.DeadLettersSettled)},
                      400, *AUTH, 422, 503), requestBody=choice),
        admin("/v1/admin/dead-letters/purge", "post", settle(False),
              "purgeDeadLetters", "Delete chosen dead letters for good",
              answers({200: answer("What was purged.", shapes.DeadLettersSettled)},
                      400, *AUTH, 422, 503), requestBody=choice),
        admin("/v1/admin/users/{userId}", "get", user,
              "adminUser", "A user's live connections, pending count and latest history",
              answers({200: answer("The user.", shapes.UserView)}, *AUTH, 422, 503),
              parameters=[user_param, tenant_param]),
        admin("/v1/admin/users/{userId}/test-notification", "post", test_notification,
              "sendTestNotification",
              "Send the user a SYSTEM notification through the pipeline",
              answers({202: answer("Accepted (RabbitMQ confirmed).",
                                   shapes.TestNotificationSent)}, 400, *AUTH, 422, 503),
              parameters=[user_param, tenant_param],
              requestBody={**request_body(TestNotificationIn, "Optional text.",
                                          {"text": "hello from ops"}), "required": False}),
        admin("/v1/admin/events/{eventId}/trace", "get", trace,
              "traceEvent", "An event's timeline across the stages",
              answers({200: answer("Marks, oldest first.", shapes.Trace)},
                      *AUTH, 404, 422, 503),
              parameters=[param("eventId", "path", "The event.", ID_SCHEMA)]),
    ]
