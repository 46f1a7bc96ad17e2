"""A user's profile and preferences: ``/v1/users/{userId}/profile`` and ``/preferences``.

Who may call (:meth:`producer.reads.routes.Gate.tenant_and_user`, as the read API): the
user's own token (read and write their own), or a tenant's key — ``notifications:read`` to
read, ``admin`` to write — for any user of its tenant; another user or tenant is 403.

* ``GET``/``PUT /v1/users/{userId}/profile`` ``{"locale", "timeZone"}``: both fields, each
  ``null`` to clear. The locale obeys :data:`common.catalog.LOCALE_PATTERN`; the time zone
  must be a zone of the IANA database (:func:`common.preferences.is_time_zone`), else 422
  naming the field. A user who set nothing reads ``null`` for both.
* ``GET /v1/users/{userId}/preferences``: for every type the tenant has,
  ``{"enabled", "transactional", "default"}`` — ``enabled`` by the one rule
  (:func:`common.preferences.allowed`): a transactional type is always on, otherwise the
  user's choice, otherwise the type's default — and the quiet hours (``null``: none).
* ``PUT /v1/users/{userId}/preferences`` ``{"types": {name: bool}, "quietHours":
  {"start", "end"} | null}``: replaces both parts; every named type must be one the tenant
  has (``422 unknown_type``, each named in ``details``). A choice for a transactional type is
  kept but has no effect while the type is transactional. Answers as ``GET``.

A write makes the user one the tenant has (a known user, whom a broadcast reaches:
:mod:`common.store.base`), recorded before the settings. After a write this replica's cache
forgets the user (:mod:`producer.config_access`). Bodies
are bounded (413); the store not answering is 503 naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from common.catalog import TenantConfig
from common.config_cache import ConfigCache
from common.models import ID_RULE, is_id, utc_now
from common.preferences import QuietHours, UserSettings, allowed
from common.store.base import Store
from common.tenancy import ADMIN, NOTIFICATIONS_READ
from producer import api_shapes as shapes
from producer.bodies import read_bounded, validate_body
from producer.config_access import store_guarded
from producer.errors import MAX_DETAILS, HttpError, field_name, json_response, parse_json
from producer.routing import (
    READ_SECURITY,
    Declared,
    Operation,
    answer,
    answers,
    by_method,
    param,
)
from producer.routing import body as request_body
from producer.schemas import PreferencesIn, ProfileIn
from producer.store_holder import StoreHolder

__all__ = ["MAX_PREFERENCES_BODY_BYTES", "MAX_PROFILE_BODY_BYTES", "Authorise", "user_routes"]

MAX_PROFILE_BODY_BYTES = 1024
MAX_PREFERENCES_BODY_BYTES = 32_768
"""200 type names of up to 64 characters, each with its ``true``/``false``."""

Authorise = Callable[[Request, str, str], Awaitable[tuple[str, str]]]
"""``(request, userId in the path, scope a tenant key needs)`` → ``(tenant, user)``."""


def _user_id(request: Request) -> str:
    value: str = request.path_params["userId"]
    if not is_id(value):
        raise HttpError(422, "invalid_request", "userId is not a valid id",
                        [{"field": "userId", "message": ID_RULE}])
    return value



def profile_json(tenant: str, user: str, settings: UserSettings | None) -> dict[str, Any]:
    return {"userId": user, "tenantId": tenant,
            "locale": settings.locale if settings else None,
            "timeZone": settings.time_zone if settings else None}


def preferences_json(tenant: str, user: str, config: TenantConfig,
                     settings: UserSettings | None) -> dict[str, Any]:
    quiet = settings.quiet_hours if settings else None
    return {"userId": user, "tenantId": tenant,
            "types": {t.name: {"enabled": allowed(t, settings),
                               "transactional": t.transactional,
                               "default": t.default_enabled}
                      for t in config.all_types()},
            "quietHours": quiet.to_json() if quiet is not None else None}


Changed = Callable[[str, str, UserSettings], Awaitable[None]]
"""Called after a user's profile or preferences were saved, with what is saved now: the
producer moves the user's notifications held for quiet hours to their new end
(:func:`producer.users.held.rescheduler`)."""


async def _nothing(tenant_id: str, user_id: str, settings: UserSettings) -> None:
    return None


def user_routes(holder: StoreHolder, authorise: Authorise, cache: ConfigCache,
                max_body_bytes: int, changed: Changed = _nothing) -> list[Declared]:
    def store() -> Store:
        return holder.store

    async def body_of(request: Request, limit: int) -> Any:
        return parse_json(await read_bounded(request, min(limit, max_body_bytes)))

    async def settings_of(tenant: str, user: str) -> UserSettings | None:
        return (await store().get_user_settings(tenant, [user])).get(user)

    async def get_profile(request: Request) -> Response:
        tenant, user = await authorise(request, _user_id(request), NOTIFICATIONS_READ)
        return json_response(profile_json(tenant, user, await settings_of(tenant, user)))

    async def put_profile(request: Request) -> Response:
        tenant, user = await authorise(request, _user_id(request), ADMIN)
        asked = validate_body(ProfileIn, await body_of(request, MAX_PROFILE_BODY_BYTES),
                              "invalid_request",
                              'the body must be {"locale": str|null, "timeZone": str|null}')
        now = utc_now()
        await store().add_known_users(tenant, [user], now)
        saved = await store().put_profile(tenant, user, asked.locale, asked.timeZone, now)
        cache.forget(tenant, user)
        await changed(tenant, user, saved)
        return json_response(profile_json(tenant, user, saved))

    async def get_preferences(request: Request) -> Response:
        tenant, user = await authorise(request, _user_id(request), NOTIFICATIONS_READ)
        config = await store().get_tenant_config(tenant)
        return json_response(preferences_json(tenant, user, config,
                                              await settings_of(tenant, user)))

    async def put_preferences(request: Request) -> Response:
        tenant, user = await authorise(request, _user_id(request), ADMIN)
        asked = validate_body(PreferencesIn, await body_of(request, MAX_PREFERENCES_BODY_BYTES),
                              "invalid_request", 'the body must be {"types": {name: bool}, '
                                                 '"quietHours": {"start", "end"}|null}')
        config = await store().get_tenant_config(tenant)
        unknown = [name for name in asked.types if config.type_of(name) is None]
        if unknown:
            details = [{"field": field_name(f"types.{name}"),
                        "message": "no such event type in this tenant"}
                       for name in unknown[:MAX_DETAILS]]
            raise HttpError(422, "unknown_type", f"unknown event type {unknown[0]!r}",
                            details, omitted=len(unknown) - len(details))
        quiet = (QuietHours.parse(asked.quietHours.start, asked.quietHours.end)
                 if asked.quietHours is not None else None)
        now = utc_now()
        await store().add_known_users(tenant, [user], now)
        saved = await store().put_preferences(tenant, user, asked.types, quiet, now)
        cache.forget(tenant, user)
        await changed(tenant, user, saved)
        return json_response(preferences_json(tenant, user, config, saved))

    user = param("userId", "path", "The user.")
    errors = (401, 403, 422, 503)

    def op(operation_id: str, summary: str, model: type[BaseModel], *more: int,
           description: str = "", request: Operation | None = None) -> Operation:
        operation: Operation = {"tags": ["users"], "operationId": operation_id,
                                "summary": summary, "security": READ_SECURITY,
                                "parameters": [user],
                                "responses": answers({200: answer(summary, model)},
                                                     *errors, *more)}
        if description:
            operation["description"] = description
        if request is not None:
            operation["requestBody"] = request
        return operation

    write = ("The user's own token, or a tenant key with `admin`.")
    read = ("The user's own token, or a tenant key with `notifications:read`.")
    return [
        Declared("/v1/users/{userId}/profile", {
            "get": op("getProfile", "The user's locale and time zone", shapes.ProfileOut,
                      description=read),
            "put": op("putProfile", "Set the user's locale and time zone", shapes.ProfileOut,
                      400, 413, description=write + " Both fields; `null` clears one. The "
                      "time zone is an IANA name (`Europe/Berlin`).",
                      request=request_body(ProfileIn, "Locale and time zone.",
                                           {"locale": "de-AT", "timeZone": "Europe/Vienna"})),
        }, endpoint=store_guarded(by_method({"GET": get_profile, "PUT": put_profile}))),
        Declared("/v1/users/{userId}/preferences", {
            "get": op("getPreferences", "The user's preferences, for every type",
                      shapes.PreferencesOut, description=read + " `enabled`: a "
                      "transactional type always; else the user's choice; else the type's "
                      "default."),
            "put": op("putPreferences", "Set the user's preferences", shapes.PreferencesOut,
                      400, 413, description=write + " Replaces both parts; each named type "
                      "must exist (`422 unknown_type`).",
                      request=request_body(PreferencesIn, "Per-type choices and quiet hours.",
                                           {"types": {"LIKE": False},
                                            "quietHours": {"start": "22:00",
                                                           "end": "07:00"}})),
        }, endpoint=store_guarded(by_method({"GET": get_preferences,
                                              "PUT": put_preferences}))),
    ]
