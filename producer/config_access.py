"""The producer's handle on tenants' configuration and users' settings (issue 19).

:func:`config_cache` makes the one :class:`~common.config_cache.ConfigCache` of a producer,
reading the store the :class:`~producer.store_holder.StoreHolder` opens (so the cache exists
before the store is open; a read then answers ``503``). The routes that write configuration
(:mod:`producer.catalog.routes`, :mod:`producer.users.routes`) call its ``forget`` after each
write, so this replica sees its own writes at once; the others within the cache's TTL.

:func:`store_guarded`: an endpoint answering ``503 dependency_unavailable`` naming the store
when the store raises (not open, not answering), as ``/readyz`` names it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response

from common.catalog import TenantConfig
from common.config_cache import ConfigCache
from common.preferences import UserSettings
from producer.errors import dependency_unavailable
from producer.routing import Endpoint
from producer.store_holder import StoreHolder

__all__ = ["STORE_ERRORS", "HeldConfig", "config_cache", "store_guarded", "type_checker"]

STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, PyMongoError, OSError,
                                                 TimeoutError)


class HeldConfig:
    """The two configuration reads of whatever store ``holder`` has open."""

    def __init__(self, holder: StoreHolder) -> None:
        self._holder = holder

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        return await self._holder.store.get_tenant_config(tenant_id)

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        return await self._holder.store.get_user_settings(tenant_id, user_ids)


def config_cache(holder: StoreHolder, ttl_seconds: float) -> ConfigCache:
    return ConfigCache(HeldConfig(holder), ttl_seconds)


def type_checker(cache: ConfigCache) -> Callable[[str, str], Awaitable[bool]]:
    """Ingest's check of a type that is not a built-in (:class:`producer.ingest.accept.Ingest`):
    whether the tenant has it, through the cache; ``503`` naming the store when it cannot
    be read."""

    async def known(tenant_id: str, kind: str) -> bool:
        try:
            config = await cache.tenant(tenant_id)
        except STORE_ERRORS:
            raise dependency_unavailable("store") from None
        return config.type_of(kind) is not None

    return known


def store_guarded(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, answering 503 naming the store when the store raises."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except STORE_ERRORS:
            raise dependency_unavailable("store") from None

    return guarded
