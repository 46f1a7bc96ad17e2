"""A tenant's event types and stored templates: ``/v1/event-types`` and ``/v1/templates``.

Who may call: the operator key (``ADMIN_API_KEY``), naming the tenant with ``?tenantId=``
(required; an unknown tenant is 404), or a tenant's key with the scope ``admin`` (its own
tenant; ``?tenantId=`` naming another is 403). Reads need the same: a tenant's catalogue is
its admins' business.

* ``GET /v1/event-types``: every type the tenant has, the five built-ins first (as the tenant
  redefined them, ``builtin: true``), then its own by name.
* ``PUT /v1/event-types/{type}``: store a definition whole (a field left out takes its
  default): 201 when new, 200 when replaced. A built-in's name may be redefined (its digest
  window, its default…); ``DELETE`` then brings the built-in back. At most
  :data:`~common.catalog.MAX_TYPES_PER_TENANT` stored types.
* ``GET /v1/templates[?type=]``: the stored templates and the tenant's default locale.
* ``PUT /v1/templates/{type}/{locale}`` ``{"source", "sample"?}``: the type must be known
  (``422 unknown_type``); the template is checked and rendered once, strictly, against the
  sample event (:func:`common.catalog.sample_context`, with ``sample`` over it): a refusal
  is ``422 invalid_template`` whose detail is the sandbox's reason. Each save makes the next
  version. At most :data:`~common.catalog.MAX_TEMPLATES_PER_TENANT` templates.
* ``PUT /v1/templates/default-locale`` ``{"locale"}``: where the locale fallback ends.
* ``DELETE`` of either: 204, or 404 when nothing is stored under that name.

Bodies are read up to a small bound (413 past it), parsed strictly (400) and validated (422
naming the field). After each write this replica's configuration cache forgets the tenant
(:mod:`producer.config_access`); other replicas see the change within the cache's TTL. The
store not answering is ``503`` naming it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from common.catalog import (
    BUILTIN_TYPES,
    LOCALE_PATTERN,
    MAX_TEMPLATES_PER_TENANT,
    MAX_TYPES_PER_TENANT,
    TYPE_PATTERN,
    TypeDef,
    default_quiet_hours,
    is_locale,
    is_type_name,
    sample_context,
)
from common.config_cache import ConfigCache
from common.models import utc_now
from common.store.base import Store
from common.templates import TemplateRefused, check, render
from producer import api_shapes as shapes
from producer.bodies import read_bounded, validate_body
from producer.catalog.preview import data_problem
from producer.config_access import store_guarded
from producer.door import Door
from producer.errors import HttpError, bad_field, json_response, parse_json
from producer.routing import (
    ID_SCHEMA,
    KEY_SECURITY,
    Declared,
    Operation,
    answer,
    answers,
    by_method,
    param,
)
from producer.routing import body as request_body
from producer.schemas import DefaultLocaleIn, TemplateIn, TypeIn
from producer.store_holder import StoreHolder
from producer.tenant_admin import admin_tenant

__all__ = ["MAX_TEMPLATE_BODY_BYTES", "MAX_TYPE_BODY_BYTES", "catalog_routes"]

MAX_TYPE_BODY_BYTES = 4096
MAX_TEMPLATE_BODY_BYTES = 65_536
"""A template (10,000 characters, up to 4 bytes each in UTF-8, escaped) and its sample."""

TYPE_RULE = "1-64 of [A-Za-z0-9._-], starting with a letter"
LOCALE_RULE = "a locale: en, en-GB, pt-BR, zh-Hant, es-419"



def _type_name(value: str, field: str = "type") -> str:
    if not is_type_name(value):
        raise bad_field(field, TYPE_RULE)
    return value


def _locale(value: str) -> str:
    if not is_locale(value):
        raise bad_field("locale", LOCALE_RULE)
    return value



def _no_content() -> Response:
    return Response(status_code=204)


def catalog_routes(holder: StoreHolder, door: Door, cache: ConfigCache,
                   max_body_bytes: int) -> list[Declared]:
    def store() -> Store:
        return holder.store

    tenant_of = admin_tenant(door, holder)

    async def body_of(request: Request, limit: int) -> Any:
        return parse_json(await read_bounded(request, min(limit, max_body_bytes)))

    async def list_types(request: Request) -> Response:
        config = await store().get_tenant_config(await tenant_of(request))
        return json_response({"types": [t.to_json() for t in config.all_types()]})

    async def put_type(request: Request) -> Response:
        tenant = await tenant_of(request)
        name = _type_name(request.path_params["type"])
        asked = validate_body(TypeIn, await body_of(request, MAX_TYPE_BODY_BYTES),
                              "invalid_request", "the body must be an event type")
        if asked.type is not None and asked.type != name:
            raise bad_field("type", f"the body names {asked.type!r}, the path {name!r}")
        typedef = TypeDef(name, asked.priority, asked.transactional, asked.digestWindowSeconds,
                          tuple(asked.digestBy), asked.defaultEnabled,
                          asked.quietHours or default_quiet_hours(asked.transactional),
                          builtin=name in BUILTIN_TYPES)
        problems = typedef.problems()
        if problems:
            raise HttpError(422, "invalid_request", "the event type breaks a rule",
                            [{"field": f, "message": m} for f, m in problems])
        config = await store().get_tenant_config(tenant)
        if name not in config.types and len(config.types) >= MAX_TYPES_PER_TENANT:
            raise bad_field("type", f"a tenant stores at most {MAX_TYPES_PER_TENANT} types")
        created = await store().put_type(tenant, typedef)
        cache.forget(tenant)
        return json_response(typedef.to_json(), 201 if created else 200)

    async def delete_type(request: Request) -> Response:
        tenant = await tenant_of(request)
        name = _type_name(request.path_params["type"])
        if not await store().delete_type(tenant, name):
            message = ("a built-in type is not deleted (only a redefinition of it)"
                       if name in BUILTIN_TYPES else "no such event type")
            raise HttpError(404, "not_found", message, [{"field": "type", "message": message}])
        cache.forget(tenant)
        return _no_content()

    async def list_templates(request: Request) -> Response:
        tenant = await tenant_of(request)
        only = request.query_params.get("type")
        if only is not None:
            _type_name(only)
        config = await store().get_tenant_config(tenant)
        return json_response({"templates": [t.to_json() for t in config.templates_of(only)],
                              "defaultLocale": config.default_locale})

    async def put_template(request: Request) -> Response:
        tenant = await tenant_of(request)
        name = _type_name(request.path_params["type"])
        locale = _locale(request.path_params["locale"])
        asked = validate_body(TemplateIn, await body_of(request, MAX_TEMPLATE_BODY_BYTES),
                              "invalid_request", 'the body must be {"source": str}')
        if asked.sample is not None and (problem := data_problem(asked.sample)) is not None:
            raise bad_field("sample", problem.replace("data ", "sample ", 1))
        config = await store().get_tenant_config(tenant)
        if config.type_of(name) is None:
            raise bad_field("type", f"no event type {name!r} in this tenant; define it with "
                               f"PUT /v1/event-types/{name}", "unknown_type")
        if (name, locale) not in config.templates and \
                len(config.templates) >= MAX_TEMPLATES_PER_TENANT:
            raise bad_field("locale", f"a tenant stores at most {MAX_TEMPLATES_PER_TENANT} "
                                 "templates")
        try:
            check(asked.source)
            render(asked.source, sample_context(name, asked.sample, locale))
        except TemplateRefused as refused:
            raise HttpError(422, "invalid_template",
                            f"the template is refused: {refused.reason}",
                            [{"field": "source", "message": refused.reason}]) from None
        saved = await store().put_template(tenant, name, locale, asked.source, utc_now())
        cache.forget(tenant)
        return json_response(saved.to_json())

    async def delete_template(request: Request) -> Response:
        tenant = await tenant_of(request)
        name = _type_name(request.path_params["type"])
        locale = _locale(request.path_params["locale"])
        if not await store().delete_template(tenant, name, locale):
            raise HttpError(404, "not_found", "no template stored for this type and locale")
        cache.forget(tenant)
        return _no_content()

    async def put_default_locale(request: Request) -> Response:
        tenant = await tenant_of(request)
        asked = validate_body(DefaultLocaleIn, await body_of(request, MAX_TYPE_BODY_BYTES),
                              "invalid_request", 'the body must be {"locale": str}')
        await store().set_default_locale(tenant, asked.locale)
        cache.forget(tenant)
        return json_response({"defaultLocale": asked.locale})

    tenant_param = param("tenantId", "query", "The tenant: required with the operator key; "
                                              "a tenant key's own (another is 403).",
                         ID_SCHEMA)
    type_param = param("type", "path", "The event type's name.",
                       {"type": "string", "pattern": TYPE_PATTERN})
    locale_param = param("locale", "path", "The locale: `en`, `de-AT`, `pt-BR`…",
                         {"type": "string", "pattern": LOCALE_PATTERN})
    errors = (401, 403, 404, 422, 503)
    deleted: Operation = {"description": "Deleted."}

    def op(tag: str, operation_id: str, summary: str, success: dict[int, Operation],
           *more: int, parameters: list[Operation], description: str = "",
           request: Operation | None = None) -> Operation:
        operation: Operation = {"tags": [tag], "operationId": operation_id,
                                "summary": summary, "security": KEY_SECURITY,
                                "parameters": parameters,
                                "responses": answers(success, *errors, *more)}
        if description:
            operation["description"] = description
        if request is not None:
            operation["requestBody"] = request
        return operation

    type_example = {"priority": "transactional", "transactional": True,
                    "digestWindowSeconds": 0, "digestBy": [], "defaultEnabled": True,
                    "quietHours": "breakthrough"}
    template_example = {"source": "{{ actorId }} assigned you {{ data.task }}",
                        "sample": {"data": {"task": "Ship it"}}}
    return [
        Declared("/v1/event-types", {
            "get": op("event-types", "listEventTypes", "The tenant's event types, built-ins "
                      "included", {200: answer("The types.", shapes.TypeList)},
                      parameters=[tenant_param]),
        }, endpoint=store_guarded(list_types)),
        Declared("/v1/event-types/{type}", {
            "put": op("event-types", "putEventType", "Define (or redefine) an event type",
                      {200: answer("Replaced.", shapes.TypeOut),
                       201: answer("Made.", shapes.TypeOut)}, 400, 413,
                      parameters=[type_param, tenant_param],
                      description="A field left out takes its default. A built-in's name "
                                  "redefines the built-in for this tenant.",
                      request=request_body(TypeIn, "The type's definition.", type_example)),
            "delete": op("event-types", "deleteEventType", "Delete a type's definition "
                         "(a built-in comes back as it was)", {204: deleted},
                         parameters=[type_param, tenant_param]),
        }, endpoint=store_guarded(by_method({"PUT": put_type, "DELETE": delete_type}))),
        Declared("/v1/templates", {
            "get": op("templates", "listTemplates", "The tenant's stored templates and its "
                      "default locale", {200: answer("The templates.", shapes.TemplateList)},
                      parameters=[param("type", "query", "Only this type's.",
                                        {"type": "string", "pattern": TYPE_PATTERN}),
                                  tenant_param]),
        }, endpoint=store_guarded(list_templates)),
        Declared("/v1/templates/default-locale", {
            "put": op("templates", "setDefaultLocale", "Set the locale the fallback ends at",
                      {200: answer("Set.", shapes.DefaultLocale)}, 400, 413,
                      parameters=[tenant_param],
                      request=request_body(DefaultLocaleIn, "The locale.", {"locale": "de"})),
        }, endpoint=store_guarded(put_default_locale)),
        Declared("/v1/templates/{type}/{locale}", {
            "put": op("templates", "putTemplate", "Store a type's template for a locale",
                      {200: answer("Stored, with its new version.", shapes.TemplateOut)},
                      400, 413, parameters=[type_param, locale_param, tenant_param],
                      description="The type must exist (`422 unknown_type`). The template "
                                  "is checked and rendered once, strictly, against a sample "
                                  "event (`actorId`, `postId`, `text`, `data`, `count`…) "
                                  "with `sample` over it: a refusal is `422 "
                                  "invalid_template`, `details[0].message` saying why.",
                      request=request_body(TemplateIn, "The template and, optionally, "
                                           "sample values.", template_example)),
            "delete": op("templates", "deleteTemplate", "Delete a type's template for a "
                         "locale", {204: deleted},
                         parameters=[type_param, locale_param, tenant_param]),
        }, endpoint=store_guarded(by_method({"PUT": put_template,
                                              "DELETE": delete_template}))),
    ]

