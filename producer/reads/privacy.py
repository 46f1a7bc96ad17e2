"""The privacy routes (GDPR): erase a user, export what Herald holds of them.

* ``DELETE /v1/users/{userId}`` removes everything of that user in that tenant — pending
  notifications and markers in Redis, the persist stream's entries (both
  :class:`common.buffer.erasure.RedisErasure`), the stored history (``Store.erase_user``) — and
  leaves a tombstone so that a replay of an old event does not bring anything back (see
  :mod:`common.buffer.erasure`). Synchronous: ``200`` once all of it is done. Every step is
  idempotent: after a ``503`` the client repeats the call.
* ``GET /v1/users/{userId}/export`` returns what is held: the pending notifications (from
  Redis) and the stored history, each up to :data:`EXPORT_LIMIT` items, ``truncated`` saying
  whether either had more.

Who may call: whatever ``authorise`` decides — the read API's
:meth:`producer.reads.routes.Gate.tenant_and_user`: a user's own JWT (themselves only), a
tenant's API key for any user of that tenant — erasure needs the scope ``admin``, export
``notifications:read`` — or a ``READ_API_KEYS`` key for any user with ``?tenantId=``.

Failures: Redis or the store away → ``503 dependency_unavailable`` naming it
(both with ``Retry-After``); never a 500 for a dependency. Logs never carry the user's id.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from common.buffer.erasure import RedisErasure
from common.logs import get_logger
from common.models import ID_PATTERN, utc_now
from common.naming import Names
from common.records import Status
from common.store.base import Store
from common.tenancy import ADMIN, NOTIFICATIONS_READ
from producer import api_shapes as shapes
from producer.errors import HttpError, dependency_unavailable, json_response
from producer.reads.history import to_json
from producer.reads.routes import TENANT_PARAM
from producer.routing import READ_SECURITY, Declared, answer, answers, param
from producer.store_holder import StoreHolder

__all__ = ["EXPORT_LIMIT", "Authorise", "privacy_routes"]

log = get_logger(__name__)

EXPORT_LIMIT = 10_000
"""Most pending and most stored notifications one export returns (each)."""

Authorise = Callable[[Request, str, str], Awaitable[tuple[str, str]]]
"""``(request, userId in the path, scope a tenant key needs)`` → the ``(tenant, user)`` the
caller may act on, or an :class:`HttpError` (401/403/422)."""

_REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
_STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, PyMongoError, OSError,
                                                  TimeoutError)
_ID = re.compile(ID_PATTERN)


def _user_id(request: Request) -> str:
    value: str = request.path_params["userId"]
    if not _ID.match(value):
        raise HttpError(422, "invalid_request", "userId is not a valid id",
                        [{"field": "userId", "message": "1-128 of [A-Za-z0-9._@-]"}])
    return value


def _unavailable(dependency: str, exc: BaseException) -> HttpError:
    log.warning("privacy request failed: dependency unavailable", dependency=dependency,
                error=type(exc).__name__)
    return dependency_unavailable(dependency)


def privacy_routes(
    redis: Redis,
    names: Names,
    holder: StoreHolder,
    authorise: Authorise,
    tombstone_seconds: float,
) -> list[Declared]:
    eraser = RedisErasure(redis, names.keys, tombstone_seconds)

    async def who(request: Request, scope: str) -> tuple[str, str]:
        """The one authorisation call of this module; the tenant it grants must be an id
        (an API key names it in ``?tenantId=``, which lands in Redis key names)."""
        tenant, user = await authorise(request, _user_id(request), scope)
        if not _ID.match(tenant):
            raise HttpError(422, "invalid_request", "tenantId is not a valid id",
                            [{"field": "tenantId", "message": "1-128 of [A-Za-z0-9._@-]"}])
        return tenant, user

    def store() -> Store:
        return holder.store  # 503 dependency_unavailable while it is not open

    async def erase(request: Request) -> Response:
        tenant, user = await who(request, ADMIN)
        opened = store()
        try:
            redis_part = await eraser.erase(tenant, user)
        except _REDIS_ERRORS as exc:
            raise _unavailable("redis", exc) from None
        try:
            stored = await opened.erase_user(tenant, user)
        except _STORE_ERRORS as exc:
            raise _unavailable("store", exc) from None
        log.info("user erased", tenantId=tenant, pending=redis_part.pending,
                 markers=redis_part.markers, stream=redis_part.stream, stored=stored)
        return json_response({
            "userId": user, "tenantId": tenant,
            "erased": {"pending": redis_part.pending, "stream": redis_part.stream,
                       "stored": stored},
        })

    async def export(request: Request) -> Response:
        tenant, user = await who(request, NOTIFICATIONS_READ)
        opened = store()
        try:
            bodies = await eraser.pending(tenant, user, EXPORT_LIMIT + 1)
        except _REDIS_ERRORS as exc:
            raise _unavailable("redis", exc) from None
        try:
            stored = await opened.export_user(tenant, user, EXPORT_LIMIT + 1)
        except _STORE_ERRORS as exc:
            raise _unavailable("store", exc) from None
        pending: list[dict[str, Any]] = []
        for body in bodies[:EXPORT_LIMIT]:
            item = orjson.loads(body)
            item.update(status=Status.PENDING.value, readAt=None)
            pending.append(item)
        return json_response({
            "userId": user, "tenantId": tenant,
            "exportedAt": utc_now().isoformat().replace("+00:00", "Z"),
            "pending": pending,
            "stored": [to_json(r) for r in stored[:EXPORT_LIMIT]],
            "truncated": len(bodies) > EXPORT_LIMIT or len(stored) > EXPORT_LIMIT,
            "limit": EXPORT_LIMIT,
        })

    user = param("userId", "path", "The user whose data this is.")
    errors = (401, 403, 422, 503)
    return [
        Declared("/v1/users/{userId}", {"delete": {
            "tags": ["user data"], "operationId": "eraseUser",
            "summary": "Erase everything Herald holds of a user (GDPR)",
            "description": "Pending notifications, persist-stream entries and stored rows; a "
                           "tombstone keeps replays of older events from notifying again.",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "responses": answers({200: answer("Erased; the counts say what went.",
                                              shapes.UserErased)}, *errors),
        }}, endpoint=erase),
        Declared("/v1/users/{userId}/export", {"get": {
            "tags": ["user data"], "operationId": "exportUser",
            "summary": "Everything Herald holds of a user, as JSON",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "responses": answers({200: answer("The user's data.", shapes.UserExport)},
                                 *errors),
        }}, endpoint=export),
    ]
