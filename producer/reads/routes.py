"""Routes of the read API, and who may call them.

* ``Authorization: Bearer <JWT>`` of that user in that tenant (``sub``/``tid``): their own
  notifications only; any other user's → 403.
* A tenant's API key (``X-API-Key: <key>`` or ``Authorization: Bearer <key>``, see
  :mod:`producer.door`) with the scope ``notifications:read``: any user of that tenant; the
  tenant comes from the key, and a ``?tenantId=`` naming another is 403.
* ``Authorization: Bearer <key>`` with a key from ``READ_API_KEYS`` (kept from before tenant
  keys; prefer tenant keys): a trusted backend, any user of any tenant (``tenantId`` from the
  query, default ``default``).
* ``AUTH_MODE=trusted``: open, as the seed was (local demos only).
* Nothing, or a token that does not verify → 401.

Ids in the path and the query (``userId``, ``notificationId``, ``?tenantId=``, ``?userId=``)
obey the body's id rule (:func:`common.models.is_id`) and are checked before anything else:
a bad one is a 422 naming it, never a 403 from comparing it with the token's.

Redis (the pending notifications) or the store not answering → ``503 dependency_unavailable``
naming it, as ``/readyz`` does, with ``Retry-After`` (not a 500: nothing is wrong with the
request, and it can be sent again unchanged).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymongo.errors import ConnectionFailure as MongoConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.responses import Response

from common.auth import AuthError, Verifier
from common.models import ID_RULE, is_id
from common.store.cursor import decode_cursor, encode_cursor
from common.tenancy import NOTIFICATIONS_READ, key_id_of
from producer import api_shapes as shapes
from producer.door import Door, credential, unauthorized
from producer.errors import HttpError, dependency_unavailable, json_response
from producer.reads.history import History, to_json
from producer.routing import READ_SECURITY, Declared, Operation, answer, answers, param

__all__ = ["TENANT_PARAM", "Gate", "check_id", "naming_dependencies", "read_routes"]

MAX_LIMIT = 100  # the store takes up to 1000; one page more is asked for to see hasMore

TENANT_PARAM: Operation = param(
    "tenantId", "query", "The tenant: a tenant key's or a token's own (another is 403; absent: "
                         "theirs); for a `READ_API_KEYS` key, any (`default` when absent).")
"""``?tenantId=`` as :meth:`Gate.tenant_and_user` reads it."""


@dataclass(frozen=True, slots=True)
class Gate:
    verifier: Verifier
    api_keys: tuple[str, ...]
    door: Door

    async def tenant_and_user(self, request: Request, user_id: str | None,
                              scope: str = NOTIFICATIONS_READ) -> tuple[str, str]:
        """The (tenant, user) the caller may act on, or 401/403/422 as :class:`HttpError`.
        ``scope`` is what a tenant key needs for this call."""
        tenant = request.query_params.get("tenantId")
        if tenant is not None:
            check_id("tenantId", tenant)
        presented = credential(request.scope["headers"])
        if presented is not None:
            if key_id_of(presented) is not None:
                principal = (await self.door.authenticate(presented)).require(scope)
                return self._named(principal.tenant_for(tenant), user_id)
            if any(hmac.compare_digest(presented.encode("latin-1"), key.encode())
                   for key in self.api_keys):
                return self._named(tenant or "default", user_id)
            try:
                identity = self.verifier.verify({"token": presented})
            except AuthError as exc:
                raise unauthorized(str(exc)) from None
            if (user_id is not None and user_id != identity.user_id) or \
                    (tenant is not None and tenant != identity.tenant_id):
                raise HttpError(403, "forbidden", "a token reads only its own notifications")
            return identity.tenant_id, identity.user_id
        if self.verifier.trusted:
            return self._named(tenant or "default", user_id)
        raise unauthorized("send Authorization: Bearer <JWT or API key> or X-API-Key: <key>")

    @staticmethod
    def _named(tenant: str, user_id: str | None) -> tuple[str, str]:
        if user_id is None:
            raise HttpError(422, "invalid_request", "userId is required",
                            [{"field": "userId", "message": "give ?userId= with an API key"}])
        return tenant, user_id


_DIGITS = re.compile(r"[0-9]{1,4}")


def check_id(name: str, value: str) -> str:
    """``value``, or a 422 naming ``name`` when it is not an id."""
    if not is_id(value):
        raise HttpError(422, "invalid_request", f"{name} is not a valid id",
                        [{"field": name, "message": ID_RULE}])
    return value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "20")
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses.
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise HttpError(422, "invalid_request", f"limit must be 1 to {MAX_LIMIT}",
                        [{"field": "limit", "message": f"got {raw[:20]!r}"}])
    return int(raw)


Endpoint = Callable[[Request], Awaitable[Response]]


def naming_dependencies(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` answering 503 naming Redis or the store when one does not answer."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except (RedisConnectionError, RedisTimeoutError):
            raise dependency_unavailable("redis") from None
        except MongoConnectionFailure:
            raise dependency_unavailable("store") from None

    return guarded


def read_routes(history: History, gate: Gate) -> list[Declared]:
    async def list_notifications(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        limit = _limit(request)
        raw_cursor = request.query_params.get("cursor")
        try:
            cursor = decode_cursor(raw_cursor) if raw_cursor else None
        except ValueError as exc:
            raise HttpError(422, "invalid_request", str(exc),
                            [{"field": "cursor", "message": str(exc)}]) from None
        raw_archived = request.query_params.get("archived", "false")
        if raw_archived not in ("true", "false"):
            raise HttpError(422, "invalid_request", "archived must be true or false",
                            [{"field": "archived", "message": f"got {raw_archived[:20]!r}"}])
        page, next_cursor = await history.page(tenant, user, limit, cursor,
                                               archived=raw_archived == "true")
        return json_response({
            "notifications": [to_json(r) for r in page],
            "nextCursor": encode_cursor(*next_cursor) if next_cursor else None,
            "hasMore": next_cursor is not None,
        })

    async def unread_count(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        return json_response({"userId": user, "tenantId": tenant,
                              "unread": await history.unread(tenant, user)})

    async def mark_read(request: Request) -> Response:
        notification_id = check_id("notificationId", request.path_params["notificationId"])
        asked = request.query_params.get("userId")
        tenant, user = await gate.tenant_and_user(
            request, check_id("userId", asked) if asked else None)
        if not await history.mark_read(tenant, user, notification_id):
            raise HttpError(404, "not_found", "no such notification for this user")
        return json_response({"notificationId": notification_id, "read": True})

    async def mark_all_read(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        return json_response({"userId": user, "tenantId": tenant,
                              "marked": await history.mark_all_read(tenant, user)})

    user = param("userId", "path", "The user whose notifications these are.")
    errors = (401, 403, 404, 422)
    return [
        Declared("/v1/users/{userId}/notifications", {"get": {
            "tags": ["read"], "operationId": "listNotifications",
            "summary": "A user's notifications, newest first",
            "security": READ_SECURITY,
            "parameters": [
                user, TENANT_PARAM,
                param("limit", "query", "Page size.",
                      {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}),
                param("cursor", "query", "`nextCursor` of the previous page.",
                      {"type": "string"}),
                param("archived", "query", "`true`: only the archived notifications (the "
                                           "default leaves them out).",
                      {"type": "boolean", "default": False}),
            ],
            "responses": answers({200: answer("A page.", shapes.NotificationPage)}, *errors),
        }}, endpoint=naming_dependencies(list_notifications)),
        Declared("/v1/users/{userId}/notifications/unread-count", {"get": {
            "tags": ["read"], "operationId": "countUnread",
            "summary": "Pending plus stored and not read",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "responses": answers({200: answer("The count.", shapes.UnreadCount)}, *errors),
        }}, endpoint=naming_dependencies(unread_count)),
        Declared("/v1/notifications/{notificationId}/read", {"post": {
            "tags": ["read"], "operationId": "markRead",
            "summary": "Mark a notification read (and acknowledge it if still pending)",
            "security": READ_SECURITY,
            "parameters": [
                param("notificationId", "path", "The notification."),
                param("userId", "query", "Whose notification, for an API key (a token's "
                                         "own user otherwise)."),
                TENANT_PARAM,
            ],
            "responses": answers({200: answer("Marked.", shapes.MarkedRead)}, *errors),
        }}, endpoint=naming_dependencies(mark_read)),
        Declared("/v1/users/{userId}/notifications/read-all", {"post": {
            "tags": ["read"], "operationId": "markAllRead",
            "summary": "Mark every unread notification of a user read",
            "description": "Pending notifications are acknowledged too (as mark-read does); "
                           "stored ones get `readAt`. Idempotent: a second call marks 0.",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "responses": answers({200: answer("Marked.", shapes.MarkedAllRead)},
                                 401, 403, 422),
        }}, endpoint=naming_dependencies(mark_all_read)),
    ]
