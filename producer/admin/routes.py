"""The admin API under ``/v1/admin/``: tenants, their limits and their keys.

Who may call (:class:`AdminGate`): the bootstrap admin key (``ADMIN_API_KEY``), which manages
every tenant, or a tenant's stored key with the scope ``admin``, which manages that tenant's
keys only: it may read its tenant and create, list, revoke and rotate its keys, but not make
tenants nor change limits (its own rate limit is the operator's to set). A key of another
tenant named in a path is ``403``; a key id of another tenant is ``404``, as an unknown one.
``AUTH_MODE=trusted`` does not open the admin API.

The operations are :mod:`producer.admin.tenants`'s, shared with the CLI. A revocation made
here is dropped from this replica's key cache at once; the others see it within a second
(:mod:`producer.door`).
"""

from __future__ import annotations

import sqlite3

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response

from common.store.base import Store
from common.tenancy import ADMIN
from producer import api_shapes as shapes
from producer.admin import tenants as ops
from producer.bodies import validate_body
from producer.door import Door, credential, forbidden, unauthorized
from producer.errors import HttpError, dependency_unavailable, json_response, parse_json
from producer.routing import (
    KEY_SECURITY,
    Declared,
    Endpoint,
    Operation,
    answer,
    answers,
    by_method,
    param,
)
from producer.routing import body as request_body
from producer.schemas import KeyIn, LimitsIn, TenantIn
from producer.store_holder import StoreHolder

__all__ = ["ALL_TENANTS", "AdminGate", "admin_routes"]

ALL_TENANTS = None
"""What :meth:`AdminGate.caller` returns for the bootstrap key: no tenant, every tenant."""

_STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, PyMongoError, OSError,
                                                  TimeoutError)


class AdminGate:
    def __init__(self, door: Door) -> None:
        self._door = door

    async def caller(self, request: Request) -> str | None:
        """:data:`ALL_TENANTS` for the bootstrap key, the tenant of a stored admin key;
        401/403 otherwise."""
        key = credential(request.scope["headers"])
        if key is None:
            raise unauthorized("send the admin key: X-API-Key: <key> or "
                               "Authorization: Bearer <key>")
        if self._door.is_admin_key(key):
            return ALL_TENANTS
        return (await self._door.authenticate(key)).require(ADMIN).tenant_id


def _as_http(error: ops.AdminError) -> HttpError:
    details = [{"field": error.field, "message": error.message}] if error.field else None
    return HttpError(error.status, error.code, error.message, details)


Handler = Endpoint
ERRORS = (400, 401, 403, 404, 422, 503)
"""What every admin call may be answered besides its success."""


def _op(operation_id: str, summary: str, success: dict[int, Operation], *more: int,
        parameters: list[Operation] | None = None,
        request: Operation | None = None) -> Operation:
    operation: Operation = {"tags": ["admin"], "operationId": operation_id,
                            "summary": summary, "security": KEY_SECURITY,
                            "responses": answers(success, *ERRORS, *more)}
    if parameters:
        operation["parameters"] = parameters
    if request:
        operation["requestBody"] = request
    return operation


def admin_routes(holder: StoreHolder, door: Door) -> list[Declared]:
    gate = AdminGate(door)

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ops.AdminError as error:
                raise _as_http(error) from None
            except _STORE_ERRORS:
                raise dependency_unavailable("store") from None
        return endpoint

    def store() -> Store:
        return holder.store

    async def own(request: Request) -> tuple[str | None, str]:
        """The caller, and the tenant of the path, which the caller must manage."""
        caller = await gate.caller(request)
        tenant_id = request.path_params["tenantId"]
        if caller is not ALL_TENANTS and caller != tenant_id:
            raise forbidden("this key manages only its own tenant")
        return caller, tenant_id

    def operator_only(caller: str | None) -> None:
        if caller is not ALL_TENANTS:
            raise forbidden("only the bootstrap admin key (ADMIN_API_KEY) may do this")

    async def create_tenant(request: Request) -> Response:
        operator_only(await gate.caller(request))
        body = validate_body(TenantIn, parse_json(await request.body()), "invalid_request",
                             "the body must be a tenant")
        tenant = await ops.create_tenant(store(), body.tenantId, body.name,
                                         body.ratePerSecond, body.burst)
        return json_response(tenant.to_json(), 201)

    async def list_tenants(request: Request) -> Response:
        caller = await gate.caller(request)
        if caller is ALL_TENANTS:
            tenants = await ops.list_tenants(store())
        else:
            tenants = [await ops.get_tenant(store(), caller)]
        return json_response({"tenants": [t.to_json() for t in tenants]})

    async def get_tenant(request: Request) -> Response:
        _, tenant_id = await own(request)
        return json_response((await ops.get_tenant(store(), tenant_id)).to_json())

    async def set_limits(request: Request) -> Response:
        caller, tenant_id = await own(request)
        operator_only(caller)
        body = validate_body(LimitsIn, parse_json(await request.body()), "invalid_request",
                             'the body must be {"ratePerSecond", "burst"}')
        tenant = await ops.set_limits(store(), tenant_id, body.ratePerSecond, body.burst)
        return json_response(tenant.to_json())

    async def create_key(request: Request) -> Response:
        _, tenant_id = await own(request)
        body = validate_body(KeyIn, parse_json(await request.body()), "invalid_request",
                             'the body must be {"scopes": [...]}')
        made = await ops.create_key(store(), tenant_id, body.scopes, body.name)
        return json_response(made.to_json(), 201)

    async def list_keys(request: Request) -> Response:
        _, tenant_id = await own(request)
        keys = await ops.list_keys(store(), tenant_id)
        return json_response({"keys": [k.to_json() for k in keys]})

    async def key_of_caller(request: Request) -> str:
        caller = await gate.caller(request)
        key_id: str = request.path_params["keyId"]
        if caller is not ALL_TENANTS and await ops.key_tenant(store(), key_id) != caller:
            raise ops.AdminError(404, "not_found", "no such key", "keyId")
        return key_id

    async def revoke_key(request: Request) -> Response:
        key_id = await key_of_caller(request)
        revoked = await ops.revoke_key(store(), key_id)
        door.forget(key_id)
        return json_response(revoked.to_json())

    async def rotate_key(request: Request) -> Response:
        key_id = await key_of_caller(request)
        return json_response((await ops.rotate_key(store(), key_id)).to_json(), 201)

    tenant = param("tenantId", "path", "The tenant.")
    key = param("keyId", "path", "The key's id (`keyId` in lists; not the key).",
                {"type": "string", "maxLength": 64})
    base = "/v1/admin"
    return [
        Declared(f"{base}/tenants", {
            "post": _op("createTenant", "Make a tenant (bootstrap admin key only)",
                        {201: answer("Made.", shapes.TenantOut)}, 409,
                        request=request_body(TenantIn, "The tenant; limits optional.",
                                             {"tenantId": "acme", "name": "Acme Inc"})),
            "get": _op("listTenants", "Every tenant (a tenant's admin key: its own)",
                       {200: answer("The tenants.", shapes.TenantList)}),
        }, endpoint=guarded(by_method({"POST": create_tenant, "GET": list_tenants}))),
        Declared(f"{base}/tenants/{{tenantId}}", {
            "get": _op("getTenant", "One tenant",
                       {200: answer("The tenant.", shapes.TenantOut)}, parameters=[tenant]),
        }, endpoint=guarded(get_tenant)),
        Declared(f"{base}/tenants/{{tenantId}}/limits", {
            "put": _op("setTenantLimits", "Set a tenant's rate limit (bootstrap admin key "
                       "only); both null: the producer's defaults",
                       {200: answer("The tenant.", shapes.TenantOut)}, parameters=[tenant],
                       request=request_body(LimitsIn, "Events per second and burst.",
                                            {"ratePerSecond": 100, "burst": 200})),
        }, endpoint=guarded(set_limits)),
        Declared(f"{base}/tenants/{{tenantId}}/keys", {
            "post": _op("createKey", "Make a key of the tenant (shown once)",
                        {201: answer("The key, with the secret `key`.", shapes.NewKeyOut)},
                        parameters=[tenant],
                        request=request_body(KeyIn, "Its scopes: `events:write`, "
                                                    "`notifications:read`, `tokens:write`, "
                                                    "`admin`.",
                                             {"scopes": ["events:write"], "name": "backend"})),
            "get": _op("listKeys", "The tenant's keys (by prefix; never the key)",
                       {200: answer("The keys.", shapes.KeyList)}, parameters=[tenant]),
        }, endpoint=guarded(by_method({"POST": create_key, "GET": list_keys}))),
        Declared(f"{base}/keys/{{keyId}}/revoke", {
            "post": _op("revokeKey", "Refuse the key from now on (every replica within 2 s)",
                        {200: answer("The key, revoked.", shapes.KeyOut)}, parameters=[key]),
        }, endpoint=guarded(revoke_key)),
        Declared(f"{base}/keys/{{keyId}}/rotate", {
            "post": _op("rotateKey", "A new key of the same tenant and scopes; the old one "
                        "stays valid until revoked",
                        {201: answer("The new key, with the secret `key`.",
                                     shapes.NewKeyOut)}, 409, parameters=[key]),
        }, endpoint=guarded(rotate_key)),
    ]
