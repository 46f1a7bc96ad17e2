"""Tenants' configuration and users' settings, read through a short-lived cache.

Every event the consumer takes needs its tenant's types and templates and its recipients'
settings; reading the store for each would put the store on the hot path. :class:`ConfigCache`
keeps what it read for at most ``ttl_seconds`` (``HERALD_CONFIG_TTL_SECONDS``, default 2):

* **The rule of freshness**: a change made anywhere is seen by every process within
  ``ttl_seconds`` (plus one store read); a change made through this process's producer is
  seen at once, since the route that wrote it calls :meth:`ConfigCache.forget`. A read that
  was under way when :meth:`~ConfigCache.forget` was called is returned to its callers but
  not kept, so a forget is never undone by a read that started before it.
* **Bounded**: at most ``max_tenants`` tenants and ``max_users`` users are kept; past that
  the least recently used go first. A user without settings is kept too (as "none"), so a
  tenant's many users who never chose cost one store read each per ``ttl_seconds``.
* **One read per tenant at a time**: callers that want a tenant not cached (or stale) while
  it is being read wait for that read. Users are read in batches of at most
  :data:`MAX_USERS_PER_READ` ids, the ones missing from the cache only.
* **Errors** pass through: a store that does not answer raises to the caller (the consumer
  then retries the event); nothing stale is served in its place.

The clock is injectable (``clock``, monotonic seconds) so tests decide what time it is.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from common.catalog import TenantConfig
from common.preferences import UserSettings

__all__ = [
    "DEFAULT_MAX_TENANTS",
    "DEFAULT_MAX_USERS",
    "DEFAULT_TTL_SECONDS",
    "MAX_USERS_PER_READ",
    "ConfigCache",
    "ConfigSource",
]

DEFAULT_TTL_SECONDS = 2.0
DEFAULT_MAX_TENANTS = 10_000
DEFAULT_MAX_USERS = 100_000
MAX_USERS_PER_READ = 1000
"""The store's limit per ``get_user_settings`` call (``common.store.base.MAX_SETTINGS_USERS``)."""

V = TypeVar("V")


class ConfigSource(Protocol):
    """What the cache reads: the store's two configuration reads (:class:`common.store.Store`
    has them)."""

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        ...

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        ...


class _Lru(Generic[V]):
    """At most ``size`` entries of ``(expires_at, value)``, least recently used out first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self._size = size
        self._entries: OrderedDict[tuple[str, str], tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str], now: float) -> tuple[bool, V | None]:
        """``(True, value)`` when fresh, ``(False, None)`` when absent or stale."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: tuple[str, str], value: V, expires_at: float) -> None:
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def pop(self, key: tuple[str, str]) -> None:
        self._entries.pop(key, None)


class ConfigCache:
    """See the module docstring. ``store`` is anything with the two reads
    (:class:`ConfigSource`)."""

    def __init__(self, store: ConfigSource, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 max_users: int = DEFAULT_MAX_USERS,
                 clock: Callable[[], float] = time.monotonic, *,
                 max_tenants: int = DEFAULT_MAX_TENANTS) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be 0 or more")
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._tenants: _Lru[TenantConfig] = _Lru(max_tenants)
        self._users: _Lru[UserSettings | None] = _Lru(max_users)
        self._reading: dict[str, asyncio.Future[TenantConfig]] = {}
        self._forgets = 0  # grows at every forget: a read that saw it change keeps nothing

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def sizes(self) -> tuple[int, int]:
        """How many tenants and users are cached now."""
        return len(self._tenants), len(self._users)

    async def tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant's configuration, at most ``ttl_seconds`` old."""
        fresh, config = self._tenants.get((tenant_id, ""), self._clock())
        if fresh and config is not None:
            return config
        pending = self._reading.get(tenant_id)
        if pending is None:
            pending = asyncio.ensure_future(self._read_tenant(tenant_id))
            self._reading[tenant_id] = pending
            pending.add_done_callback(lambda done: self._done_reading(tenant_id, done))
        # shield: one caller cancelled does not cancel the read the others wait for
        return await asyncio.shield(pending)

    def _done_reading(self, tenant_id: str, done: asyncio.Future[TenantConfig]) -> None:
        if self._reading.get(tenant_id) is done:
            del self._reading[tenant_id]
        if not done.cancelled():
            done.exception()  # retrieved: a failed read nobody awaits any more is not logged

    async def _read_tenant(self, tenant_id: str) -> TenantConfig:
        forgets = self._forgets
        config = await self._store.get_tenant_config(tenant_id)
        if forgets == self._forgets:
            self._tenants.put((tenant_id, ""), config, self._clock() + self._ttl)
        return config

    async def users(self, tenant_id: str, user_ids: Iterable[str]) -> dict[str, UserSettings]:
        """The settings of those of ``user_ids`` who have any, each at most ``ttl_seconds``
        old; a user without settings is absent from the answer."""
        now = self._clock()
        found: dict[str, UserSettings] = {}
        missing: list[str] = []
        for user_id in dict.fromkeys(user_ids):
            fresh, settings = self._users.get((tenant_id, user_id), now)
            if not fresh:
                missing.append(user_id)
            elif settings is not None:
                found[user_id] = settings
        for start in range(0, len(missing), MAX_USERS_PER_READ):
            chunk = missing[start:start + MAX_USERS_PER_READ]
            forgets = self._forgets
            read = await self._store.get_user_settings(tenant_id, chunk)
            keep = forgets == self._forgets
            expires = self._clock() + self._ttl
            for user_id in chunk:
                settings = read.get(user_id)
                if settings is not None:
                    found[user_id] = settings
                if keep:
                    self._users.put((tenant_id, user_id), settings, expires)
        return found

    def forget(self, tenant_id: str, user_id: str | None = None) -> None:
        """Drop the tenant's configuration (``user_id`` ``None``) or one user's settings, so
        that the next read goes to the store: called by the producer after it wrote them."""
        self._forgets += 1
        if user_id is None:
            self._tenants.pop((tenant_id, ""))
            self._reading.pop(tenant_id, None)
        else:
            self._users.pop((tenant_id, user_id))
