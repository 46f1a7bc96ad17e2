"""The console's routes in the OpenAPI document (:mod:`producer.openapi` lists this group)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from producer.admin.console import shapes
from producer.openapi import ID_SCHEMA, answer, answers, body, param

__all__ = ["ADMIN_SECURITY", "ANSWER_MODELS", "REQUEST_MODELS", "console_paths"]

ADMIN_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
REQUEST_MODELS: tuple[type[BaseModel], ...] = (shapes.DeadLetterChoice,
                                               shapes.TestNotificationIn)
ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    shapes.LiveStats, shapes.DeadLetterList, shapes.DeadLettersSettled, shapes.UserView,
    shapes.TestNotificationSent, shapes.Trace,
)
AUTH = (401, 403)
ADMIN_NOTE = ("Needs the operator's key, `Authorization: Bearer <ADMIN_API_KEY>` (or "
              "`X-API-Key`): none → 401, another credential (a tenant's key too) → 403.")


def _admin(operation_id: str, summary: str, responses: dict[str, Any],
           **more: Any) -> dict[str, Any]:
    return {"tags": ["console"], "operationId": operation_id, "summary": summary,
            "description": ADMIN_NOTE, "security": ADMIN_SECURITY, "responses": responses,
            **more}


def console_paths() -> dict[str, dict[str, dict[str, Any]]]:
    user = param("userId", "path", "The user.")
    tenant = param("tenantId", "query", "The user's tenant; `default` when absent.")
    choice = body(shapes.DeadLetterChoice, "`ids` as listed, or every message with `reason`.",
                  {"ids": ["ev-1"]})
    page = {"tags": ["pages"], "operationId": "console",
            "summary": "The operator's console (sign in with the admin key; holds no data)",
            "responses": answers({200: answer("The page.", media="text/html")})}
    return {
        "/console": {"get": page},
        "/console/{asset}": {"get": {
            "tags": ["pages"], "operationId": "consoleAsset",
            "summary": "The console's script and style sheet",
            "parameters": [param("asset", "path", "`console.js` or `console.css`.",
                                 {"type": "string"})],
            "responses": answers({200: {"description": "The file.", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}}}}}, 404),
        }},
        "/v1/admin/stats": {"get": _admin(
            "adminStats", "Live figures aggregated over every live replica",
            answers({200: answer("The figures.", shapes.LiveStats)}, *AUTH, 503))},
        "/v1/admin/dead-letters": {"get": _admin(
            "listDeadLetters", "Browse the dead-letter queue (nothing is removed)",
            answers({200: answer("Dead letters, oldest first.", shapes.DeadLetterList)},
                    *AUTH, 422, 503),
            parameters=[
                param("reason", "query", "Only this reason (`invalid`, `rate_limited`, "
                                         "`semantic_duplicate`, `delivery_limit`).",
                      {"type": "string", "pattern": shapes.REASON_PATTERN}),
                param("limit", "query", "At most this many.",
                      {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
            ])},
        "/v1/admin/dead-letters/replay": {"post": _admin(
            "replayDeadLetters", "Publish chosen dead letters back to the events exchange",
            answers({200: answer("What was replayed.", shapes.DeadLettersSettled)},
                    400, *AUTH, 422, 503), requestBody=choice)},
        "/v1/admin/dead-letters/purge": {"post": _admin(
            "purgeDeadLetters", "Delete chosen dead letters for good",
            answers({200: answer("What was purged.", shapes.DeadLettersSettled)},
                    400, *AUTH, 422, 503), requestBody=choice)},
        "/v1/admin/users/{userId}": {"get": _admin(
            "adminUser", "A user's live connections, pending count and latest history",
            answers({200: answer("The user.", shapes.UserView)}, *AUTH, 422, 503),
            parameters=[user, tenant])},
        "/v1/admin/users/{userId}/test-notification": {"post": _admin(
            "sendTestNotification", "Send the user a SYSTEM notification through the pipeline",
            answers({202: answer("Accepted (RabbitMQ confirmed).", shapes.TestNotificationSent)},
                    400, *AUTH, 422, 503),
            parameters=[user, tenant],
            requestBody={**body(shapes.TestNotificationIn, "Optional text.",
                                {"text": "hello from ops"}), "required": False})},
        "/v1/admin/events/{eventId}/trace": {"get": _admin(
            "traceEvent", "An event's timeline across the stages",
            answers({200: answer("Marks, oldest first.", shapes.Trace)}, *AUTH, 404, 422, 503),
            parameters=[param("eventId", "path", "The event.", ID_SCHEMA)])},
    }
