"""The front door: who is calling, from the API key in the request.

A key comes in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` (:func:`credential`).
:meth:`Door.authenticate` turns it into a :class:`Principal` (tenant, key id, scopes, the
tenant's rate limit), or answers:

* no key → ``401 unauthorized`` with ``WWW-Authenticate: Bearer``;
* a key that is not Herald's format, unknown, revoked, or whose tenant is gone → ``401``;
* a key without the scope the route needs → ``403 forbidden`` (:meth:`Principal.require`);
* a request naming another tenant than the key's → ``403`` (:meth:`Principal.tenant_for`);
* an event to the topic ``"*"`` (a broadcast) from a key without ``events:broadcast`` →
  ``403`` (:func:`bind_tenant`), besides ``events:write``.

The bootstrap admin key (``ADMIN_API_KEY``) is no tenant's: only the admin API takes it
(:meth:`Door.admin`).

Revocation reaches every replica within :data:`CACHE_SECONDS` (+ one store read): a key's
stored record and its tenant are cached for at most that long, so the store is read about
once a second per key in use, not per request. Unknown key ids are cached the same way (a
flood of made-up keys costs one store read per id and second). The cache holds at most
:data:`CACHE_ENTRIES` keys and is emptied when full.

The store not open or not answering → ``503 dependency_unavailable`` naming it: without the
store no key can be checked, and letting calls in unchecked would open the door. Keys never
appear in logs or answers; only key ids do.
"""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from common.models import BROADCAST
from common.tenancy import EVENTS_BROADCAST, EVENTS_WRITE, ApiKey, Tenant, key_id_of, matches
from producer.errors import HttpError, dependency_unavailable
from producer.store_holder import StoreHolder

__all__ = ["CACHE_ENTRIES", "CACHE_SECONDS", "Door", "Principal", "bind_tenant",
           "credential", "forbidden", "unauthorized"]

CACHE_SECONDS = 1.0
CACHE_ENTRIES = 10_000

Headers = Iterable[tuple[bytes, bytes]]
_STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, PyMongoError, OSError,
                                                  TimeoutError)


def unauthorized(message: str) -> HttpError:
    return HttpError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> HttpError:
    return HttpError(403, "forbidden", message)


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller the door let in: a tenant's key. ``rate``/``burst`` are the tenant's limits,
    ``None`` where the tenant has none (the producer's defaults apply)."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    rate: float | None = None
    burst: int | None = None

    def require(self, scope: str) -> Principal:
        """``self`` if the key has ``scope``, else ``403``."""
        if scope not in self.scopes:
            raise forbidden(f"this key lacks the scope {scope!r}")
        return self

    def tenant_for(self, named: str | None) -> str:
        """The tenant a request acts on: the key's; ``403`` when it names another."""
        if named is not None and named != self.tenant_id:
            raise forbidden("this key belongs to another tenant")
        return self.tenant_id


def credential(headers: Headers) -> str | None:
    """The key of ``X-API-Key``, else of ``Authorization: Bearer``; ``None`` without one. An
    ``X-API-Key`` header that is present wins, even empty (``""``: a credential that verifies
    as nothing, so 401), so that a bad key is never passed over for another credential."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip().decode("latin-1")
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                bearer = token.strip().decode("latin-1")
    return bearer


def bind_tenant(raw: Any, principal: Principal | None) -> Any:
    """An event body as the key's tenant sends it: an absent ``tenantId`` becomes the key's,
    another tenant's is ``403``; a broadcast (``"topic": "*"``) needs the key to have
    ``events:broadcast`` (``403`` otherwise). Without a principal (``AUTH_MODE=trusted``, no
    key: the door is open) and for a body that is not an object (validation refuses it),
    ``raw`` unchanged."""
    if principal is None or not isinstance(raw, dict):
        return raw
    if raw.get("topic") == BROADCAST and EVENTS_BROADCAST not in principal.scopes:
        raise forbidden(f"a broadcast (topic {BROADCAST!r}: every user of the tenant) needs "
                        f"a key with the scope {EVENTS_BROADCAST!r}")
    if "tenantId" not in raw:
        raw["tenantId"] = principal.tenant_id
    elif raw["tenantId"] != principal.tenant_id:
        raise forbidden("this key may only publish to its own tenant")
    return raw


_Entry = tuple[float, ApiKey | None, Tenant | None]


class Door:
    """Checks keys against the store, caching each key's record for :data:`CACHE_SECONDS`."""

    def __init__(self, holder: StoreHolder, admin_key: str | None, *, trusted: bool = False,
                 cache_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._holder = holder
        self.trusted = trusted
        self._admin_key = admin_key
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._reading: dict[str, asyncio.Future[tuple[ApiKey | None, Tenant | None]]] = {}

    def is_admin_key(self, key: str) -> bool:
        """Whether ``key`` is the bootstrap admin key (constant-time)."""
        # The header's bytes (read as latin-1) against the setting's UTF-8 bytes.
        return self._admin_key is not None and hmac.compare_digest(
            key.encode("latin-1"), self._admin_key.encode())

    async def authenticate(self, key: str | None) -> Principal:
        """The principal of ``key``; ``401`` for no key or one that does not verify."""
        if key is None:
            raise unauthorized("send an API key: X-API-Key: <key> or "
                               "Authorization: Bearer <key>")
        key_id = key_id_of(key)
        if key_id is None:
            raise unauthorized("not an API key of this Herald")
        stored, tenant = await self._lookup(key_id)
        if stored is None or tenant is None or not matches(key, stored):
            raise unauthorized("unknown API key")
        if not stored.active:
            raise unauthorized("this API key was revoked")
        return Principal(stored.tenant_id, stored.key_id, stored.scopes,
                         tenant.rate_per_second, tenant.burst)

    async def from_headers(self, headers: Headers, scope: str) -> Principal:
        """:meth:`authenticate` the request's key and require ``scope`` of it."""
        return (await self.authenticate(credential(headers))).require(scope)

    async def ingest_principal(self, headers: Headers) -> Principal | None:
        """Who may publish: a key with ``events:write``. In ``AUTH_MODE=trusted`` the door is
        open: ``None`` (anyone, any tenant) unless a tenant key is sent, which is then
        checked as in ``jwt`` mode."""
        if self.trusted:
            key = credential(headers)
            if key is None or key_id_of(key) is None:
                return None
        return await self.from_headers(headers, EVENTS_WRITE)

    def forget(self, key_id: str) -> None:
        """Drop a key from this replica's cache (after a revocation made here)."""
        self._cache.pop(key_id, None)
        self._reading.pop(key_id, None)

    async def _lookup(self, key_id: str) -> tuple[ApiKey | None, Tenant | None]:
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        # One store read per key at a time: a burst of calls with a key not cached yet waits
        # for the same read instead of queueing one each.
        pending = self._reading.get(key_id)
        if pending is None:
            pending = asyncio.ensure_future(self._read(key_id))
            self._reading[key_id] = pending
            pending.add_done_callback(lambda done: self._done_reading(key_id, done))
        return await asyncio.shield(pending)

    def _done_reading(self, key_id: str, done: asyncio.Future[Any]) -> None:
        if self._reading.get(key_id) is done:
            del self._reading[key_id]

    async def _read(self, key_id: str) -> tuple[ApiKey | None, Tenant | None]:
        store = self._holder.store  # 503 while the store is not open
        try:
            stored = await store.get_key(key_id)
            tenant = await store.get_tenant(stored.tenant_id) if stored is not None else None
        except _STORE_ERRORS:
            raise dependency_unavailable("store") from None
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key_id] = (self._clock() + self._cache_seconds, stored, tenant)
        return stored, tenant
