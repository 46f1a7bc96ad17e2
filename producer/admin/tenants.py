"""The operations on tenants and keys, shared by the admin API (producer/admin/routes.py) and
the CLI (``python -m producer.admin``): one implementation, two doors.

Each takes the store and returns what it made or changed; a request that cannot be done
raises :class:`AdminError` (the HTTP layer answers it as JSON, the CLI prints it and exits
1) and changes nothing. A new key's secret is in the returned :class:`~common.tenancy.NewKey`
only: it is shown once and never stored.
"""

from __future__ import annotations

from datetime import datetime

from common.models import ID_RULE, is_id, utc_now
from common.store.base import Store
from common.tenancy import ApiKey, NewKey, Tenant, check_scopes, new_key
from producer.schemas import MAX_BURST, MAX_RATE

__all__ = [
    "MAX_BURST",
    "MAX_RATE",
    "AdminError",
    "create_key",
    "create_tenant",
    "get_tenant",
    "list_keys",
    "list_tenants",
    "revoke_key",
    "rotate_key",
    "set_limits",
]



class AdminError(Exception):
    """Why an operation was refused: an HTTP status, a code and the field at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def _tenant_id(value: str) -> str:
    if not is_id(value):
        raise AdminError(422, "invalid_request", f"tenantId must be an id of {ID_RULE}",
                         "tenantId")
    return value


def _check_limits(rate: float | None, burst: int | None) -> None:
    if (rate is None) != (burst is None):
        raise AdminError(422, "invalid_request",
                         "give ratePerSecond and burst both, or both null (the defaults)",
                         "burst" if burst is None else "ratePerSecond")
    if rate is not None and not 0 < rate <= MAX_RATE:
        raise AdminError(422, "invalid_request", f"ratePerSecond must be above 0, at most "
                         f"{MAX_RATE:g}", "ratePerSecond")
    if burst is not None and not 1 <= burst <= MAX_BURST:
        raise AdminError(422, "invalid_request", f"burst must be 1 to {MAX_BURST}", "burst")


async def create_tenant(store: Store, tenant_id: str, name: str | None = None,
                        rate: float | None = None, burst: int | None = None,
                        now: datetime | None = None) -> Tenant:
    _check_limits(rate, burst)
    tenant = Tenant(_tenant_id(tenant_id), name or tenant_id, now or utc_now(), rate, burst)
    if not await store.create_tenant(tenant):
        raise AdminError(409, "conflict", f"tenant {tenant_id!r} exists", "tenantId")
    return tenant


async def get_tenant(store: Store, tenant_id: str) -> Tenant:
    tenant = await store.get_tenant(_tenant_id(tenant_id))
    if tenant is None:
        raise AdminError(404, "not_found", f"no tenant {tenant_id!r}", "tenantId")
    return tenant


async def list_tenants(store: Store) -> list[Tenant]:
    return await store.list_tenants()


async def set_limits(store: Store, tenant_id: str, rate: float | None,
                     burst: int | None) -> Tenant:
    """Set a tenant's rate limit; ``None`` and ``None`` go back to the producer's defaults."""
    _check_limits(rate, burst)
    await get_tenant(store, tenant_id)
    await store.set_tenant_limits(tenant_id, rate, burst)
    return await get_tenant(store, tenant_id)


async def create_key(store: Store, tenant_id: str, scopes: list[str] | frozenset[str],
                     name: str = "") -> NewKey:
    await get_tenant(store, tenant_id)
    try:
        wanted = check_scopes(list(scopes))
    except ValueError as exc:
        raise AdminError(422, "invalid_request", str(exc), "scopes") from None
    if len(name) > 200:
        raise AdminError(422, "invalid_request", "name is at most 200 characters", "name")
    for _ in range(3):  # 48 random bits: a collision is all but impossible; never overwrite
        made = new_key(tenant_id, wanted, utc_now(), name)
        if await store.add_key(made.stored):
            return made
    raise AdminError(500, "internal_error", "could not make a key id; try again")


async def list_keys(store: Store, tenant_id: str) -> list[ApiKey]:
    await get_tenant(store, tenant_id)
    return await store.list_keys(tenant_id)


async def _key(store: Store, key_id: str) -> ApiKey:
    key = await store.get_key(key_id) if len(key_id) <= 64 else None
    if key is None:
        raise AdminError(404, "not_found", "no such key", "keyId")
    return key


async def key_tenant(store: Store, key_id: str) -> str:
    """The tenant a key belongs to (404 when there is no such key)."""
    return (await _key(store, key_id)).tenant_id


async def revoke_key(store: Store, key_id: str) -> ApiKey:
    """Revoke (idempotent: the first revocation's time stays)."""
    await _key(store, key_id)
    revoked = await store.revoke_key(key_id, utc_now())
    assert revoked is not None
    return revoked


async def rotate_key(store: Store, key_id: str) -> NewKey:
    """A new key of the same tenant, scopes and name; the old one stays valid until revoked."""
    old = await _key(store, key_id)
    if not old.active:
        raise AdminError(409, "conflict", "this key is revoked; create a new one", "keyId")
    return await create_key(store, old.tenant_id, old.scopes, old.name)
