"""API keys for tests: a tenant and a key made straight in the store a producer will read.

``await make_key(store_url)`` → the key (all scopes, tenant ``default`` unless told), made
with the same operations as the admin API and CLI (:mod:`producer.admin.tenants`);
``headers(key)`` → the request headers that carry it. ``ADMIN_KEY`` is the bootstrap admin
key every test producer gets (``ADMIN_API_KEY`` in ``base_env``).
"""

from __future__ import annotations

from common.store.factory import open_store
from common.tenancy import SCOPES
from producer.admin import tenants as ops

__all__ = ["ADMIN_KEY", "admin_headers", "headers", "make_key"]

ADMIN_KEY = "test-admin-key-" + "k" * 32


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


async def make_key(store_url: str, tenant: str = "default",
                   scopes: tuple[str, ...] = SCOPES, *, rate: float | None = None,
                   burst: int | None = None) -> str:
    """A new key of ``tenant`` (made if missing, with ``rate``/``burst`` if given)."""
    store = await open_store(store_url)
    try:
        if await store.get_tenant(tenant) is None:
            await ops.create_tenant(store, tenant, rate=rate, burst=burst)
        elif rate is not None:
            await ops.set_limits(store, tenant, rate, burst)
        return (await ops.create_key(store, tenant, list(scopes))).secret
    finally:
        await store.close()
