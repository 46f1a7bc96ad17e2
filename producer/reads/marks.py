"""Routes of the inbox states (issue 20): mark some or all of a user's notifications seen,
read, archived or unarchived, and read the unseen and unread counts with their ``seq``.

The rules are :mod:`common.inbox`'s and :mod:`common.records`' (read implies seen, archived
implies read; any mark of a pending notification acknowledges it; "mark all" takes a
high-water mark; every mark announces the new counts with the user's next ``seq`` to every
connection of the user). Who may call: the read API's :class:`~producer.reads.routes.Gate`
(a token marks only its own; a tenant key with ``notifications:read`` any user of its tenant).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from common.inbox import InboxState
from common.models import Id
from common.records import Mark
from producer.bodies import read_bounded, validate_body
from producer.errors import json_response, parse_json
from producer.reads.history import History
from producer.reads.routes import TENANT_PARAM, Gate, check_id, naming_dependencies
from producer.routing import READ_SECURITY, Declared, answer, answers, param
from producer.routing import body as request_body
from producer.schemas import MarkAllIn, MarkIn

__all__ = ["MAX_MARK_BODY_BYTES", "mark_routes"]

MAX_MARK_BODY_BYTES = 64 * 1024


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InboxStateOut(_Closed):
    seq: int = Field(ge=1, description="The user's sequence number: show counts only of a "
                                       "`seq` above the last shown.")
    mark: str
    notificationIds: list[Id] | None
    all: bool
    at: str
    unseen: int = Field(ge=0)
    unread: int = Field(ge=0)


class MarkedOut(_Closed):
    marked: list[Id] = Field(description="The ids that are the user's (marked now or before).")
    unknown: list[Id] = Field(description="Ids not the user's, or not stored yet.")
    state: InboxStateOut


class MarkedAllOut(_Closed):
    changed: int = Field(ge=0, description="How many notifications the mark changed.")
    state: InboxStateOut


class CountsOut(_Closed):
    userId: Id
    tenantId: Id
    unseen: int = Field(ge=0)
    unread: int = Field(ge=0)
    seq: int = Field(ge=0, description="The last announced `seq`; these counts are at least "
                                       "as new as its.")


def _state(state: InboxState) -> dict[str, Any]:
    return state.to_json()


def mark_routes(history: History, gate: Gate) -> list[Declared]:
    async def body_of(request: Request) -> Any:
        return parse_json(await read_bounded(request, MAX_MARK_BODY_BYTES))

    async def mark(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        asked = validate_body(MarkIn, await body_of(request), "invalid_request",
                              "the mark is not valid")
        done = await history.mark(tenant, user, asked.notificationIds, Mark(asked.mark))
        found = set(done.found)
        return json_response({"marked": list(done.found),
                              "unknown": [i for i in dict.fromkeys(asked.notificationIds)
                                          if i not in found],
                              "state": _state(done.state)})

    async def mark_all(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        asked = validate_body(MarkAllIn, await body_of(request), "invalid_request",
                              "the mark is not valid")
        done = await history.mark_all(tenant, user, Mark(asked.mark))
        return json_response({"changed": done.changed, "state": _state(done.state)})

    async def counts(request: Request) -> Response:
        user = check_id("userId", request.path_params["userId"])
        tenant, user = await gate.tenant_and_user(request, user)
        figures, seq = await history.counts(tenant, user)
        return json_response({"userId": user, "tenantId": tenant, "unseen": figures.unseen,
                              "unread": figures.unread, "seq": seq})

    user = param("userId", "path", "The user whose notifications these are.")
    errors = (401, 403, 413, 422)
    return [
        Declared("/v1/users/{userId}/notifications/marks", {"post": {
            "tags": ["read"], "operationId": "markNotifications",
            "summary": "Mark some notifications seen, read, archived or unarchived",
            "description": "Read implies seen, archived implies read; a pending notification "
                           "marked is acknowledged. Every connection of the user gets the "
                           "new counts (`INBOX_STATE`).",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "requestBody": request_body(MarkIn, "The mark and the ids.",
                                        {"mark": "read", "notificationIds": ["n-1"]}),
            "responses": answers({200: answer("Marked.", MarkedOut)}, *errors),
        }}, endpoint=naming_dependencies(mark)),
        Declared("/v1/users/{userId}/notifications/marks/all", {"post": {
            "tags": ["read"], "operationId": "markAllNotifications",
            "summary": "Mark every notification that exists now",
            "description": "A high-water mark: a notification arriving meanwhile is left as "
                           "it is (unseen, unread).",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "requestBody": request_body(MarkAllIn, "The mark.", {"mark": "seen"}),
            "responses": answers({200: answer("Marked.", MarkedAllOut)}, *errors),
        }}, endpoint=naming_dependencies(mark_all)),
        Declared("/v1/users/{userId}/notifications/counts", {"get": {
            "tags": ["read"], "operationId": "countInbox",
            "summary": "Unseen and unread counts, with the last announced seq",
            "security": READ_SECURITY,
            "parameters": [user, TENANT_PARAM],
            "responses": answers({200: answer("The counts.", CountsOut)}, 401, 403, 422),
        }}, endpoint=naming_dependencies(counts)),
    ]
