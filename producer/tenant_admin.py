"""Who may manage a tenant's configuration, topics and fan-outs: the tenant's admins.

:func:`admin_tenant` makes the check the catalogue, topics and fan-out routes share: the
operator key (``ADMIN_API_KEY``) naming the tenant with
``?tenantId=`` (required; an unknown tenant is ``404``), or a tenant's key with the scope
``admin`` (its own tenant; ``?tenantId=`` naming another is ``403``). No key is ``401``; a
malformed ``tenantId`` is ``422`` naming it. As :mod:`producer.catalog.routes` decides for
the catalogue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from common.models import ID_RULE, is_id
from common.tenancy import ADMIN
from producer.door import Door, credential, unauthorized
from producer.errors import HttpError, bad_field
from producer.store_holder import StoreHolder

__all__ = ["TenantOf", "admin_tenant"]

TenantOf = Callable[[Request], Awaitable[str]]


def admin_tenant(door: Door, holder: StoreHolder) -> TenantOf:
    async def tenant_of(request: Request) -> str:
        named = request.query_params.get("tenantId")
        if named is not None and not is_id(named):
            raise bad_field("tenantId", ID_RULE)
        key = credential(request.scope["headers"])
        if key is None:
            raise unauthorized("send an admin key: X-API-Key: <key> or "
                               "Authorization: Bearer <key>")
        if not door.is_admin_key(key):
            return (await door.authenticate(key)).require(ADMIN).tenant_for(named)
        if named is None:
            raise bad_field("tenantId", "the operator key names the tenant: ?tenantId=")
        if await holder.store.get_tenant(named) is None:
            raise HttpError(404, "not_found", "no such tenant",
                            [{"field": "tenantId", "message": "no such tenant"}])
        return named

    return tenant_of
