"""The store interface both backends keep, and the rules they share.

Contract (tested once against every backend in ``tests/integration/test_store_contract.py``):

* ``upsert_many`` (records) and ``upsert_rows`` (the same as rows, :mod:`common.rows`)
  are idempotent on the notification id and apply
  :meth:`common.records.StoredNotification.merge` atomically per record, in the order given:
  ``acked`` is never downgraded to ``expired``, and ``readAt`` once set is kept. One call is
  one transaction
  (SQLite) or one ``bulk_write`` (MongoDB). It returns only once the backend has made the
  write durable, so the caller may then acknowledge its source; it raises otherwise, having
  written all of the call or (SQLite) nothing of it — a retry of the same call is always safe.
  A record whose id is already stored for *another* tenant or user is not written (ids are
  derived from tenant, event and recipient, so this means a forged or corrupt entry): a
  notification never moves between users.
* ``history`` is newest first by ``createdAt``, then by id (descending), one tenant and user
  only, without the archived ones (with ``archived=True``: only the archived ones); its
  cursor is an opaque string (:mod:`common.store.cursor`) that both backends read alike.
  A bad cursor raises :class:`InvalidCursor` (a ``ValueError``).
* Inbox states (issue 20, the rules in :mod:`common.records`): ``mark`` sets a state (and
  the ones it implies) on some of the user's notifications, keeping each time once set, or
  clears ``archivedAt`` (``Mark.UNARCHIVED``); it returns the ids that are the user's
  (changed or not), so an id missing from it is not stored for them. ``mark_all`` does it
  to every notification of the user created at or before ``created_until`` (the caller's
  high-water mark) that lacks the state, and returns how many changed. Each is one atomic
  statement; ``counts`` is one snapshot (``unseen``: ``seenAt`` unset, ``unread``:
  ``readAt`` unset).
* ``erase_user`` deletes every row of one tenant and user (GDPR erasure; with
  ``created_until``, only those created at or before it: what an erasure covered) and returns
  how many went; it is idempotent. ``export_user`` returns up to ``limit`` rows of one tenant
  and user, newest first, as ``history`` orders them.
* Tenancy (:mod:`common.tenancy`): ``create_tenant`` and ``add_key`` never overwrite (they
  return ``False`` when the id is taken); ``revoke_key`` sets ``revoked_at`` once and keeps the
  first time; lists are ordered by creation time, then id. Only a key's hash is stored.
* Configuration (issue 19; :mod:`common.catalog`, :mod:`common.preferences`): a tenant's
  types, templates and default locale (``get_tenant_config``: everything at once; a tenant
  that set nothing has an empty config with the default locale ``en``), and users' settings.
  ``put_type`` replaces a definition whole (``True``: it was new); ``delete_type`` removes
  only the definition (its templates stay, and come back with it). ``put_template`` gives the
  template the version after the last one saved under that (tenant, type, locale), atomically,
  deleted ones included: a template deleted and saved again does not reuse a version.
  ``put_profile`` sets locale and time zone (``None`` clears) and keeps the preferences;
  ``put_preferences`` sets the per-type choices and quiet hours and keeps the profile; both
  return the settings as stored. ``get_user_settings`` answers only for users that have
  settings (at most :data:`MAX_SETTINGS_USERS` ids at once). ``erase_user`` deletes the
  user's settings too (with ``created_until``: if last written at or before it); its count
  is of notification rows only.
* Topics and known users (issue 20): a subscription is (tenant, topic, user) with the time it
  was made; ``subscribe`` is insert-if-absent (a subscription made again keeps its first
  time) and returns how many were new; ``unsubscribe`` how many went. ``subscribers`` pages
  a topic's users in ascending user id (byte order, the same in both backends) after
  ``after`` (exclusive), at most ``limit``; with ``made_until``, only subscriptions made at
  or before it: the fan-out's snapshot rule (a user is reached if subscribed when their page
  is read and subscribed at or before the fan-out started). A page shorter than ``limit`` is
  the last. ``topics_of`` lists a user's topics by name. *Known users* are the users a
  tenant has, for a broadcast: insert-if-absent (``add_known_users``, how many were new),
  paged as subscribers are (``known_users``). At most :data:`MAX_MEMBER_IDS` ids per write
  and :data:`MAX_MEMBER_PAGE` per page. ``erase_user`` removes the user's subscriptions and
  known-user entry too (with ``created_until``: those made at or before it).
* Every timestamp is kept to the millisecond, the precision of BSON dates, of the persist
  stream's ``t`` and of the buffer's scores; a row's times are cut to the millisecond when it
  is made (:func:`common.rows.make_row`), so both backends return the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from common.catalog import TemplateDef, TenantConfig, TypeDef
from common.preferences import QuietHours, UserSettings
from common.records import InboxCounts, Mark, StoredNotification
from common.rows import Row
from common.tenancy import ApiKey, Tenant

__all__ = ["MAX_EXPORT", "MAX_MEMBER_IDS", "MAX_MEMBER_PAGE", "MAX_PAGE", "MAX_SETTINGS_USERS",
           "InvalidCursor", "Store", "check_limit", "check_member_ids", "check_settings_users"]

MAX_PAGE = 1000
"""The largest ``limit`` :meth:`Store.history` takes; the read API clamps before asking."""

MAX_EXPORT = 10_001
"""The largest ``limit`` :meth:`Store.export_user` takes (the export's cap, plus one row to
tell that there was more)."""

MAX_SETTINGS_USERS = 1000
"""The most user ids one :meth:`Store.get_user_settings` takes (an event's recipients)."""


MAX_MEMBER_IDS = 10_000
"""The most user ids one ``subscribe``, ``unsubscribe`` or ``add_known_users`` takes (the
bulk route's limit)."""

MAX_MEMBER_PAGE = 10_000
"""The largest ``limit`` of ``subscribers`` and ``known_users`` (a fan-out's page)."""


class InvalidCursor(ValueError):
    """A ``cursor`` that no ``history`` call made (tampered, truncated or from elsewhere)."""


def check_limit(limit: int, largest: int = MAX_PAGE) -> None:
    if not 1 <= limit <= largest:
        raise ValueError(f"limit must be between 1 and {largest}, got {limit}")


def check_settings_users(user_ids: Sequence[str]) -> None:
    if len(user_ids) > MAX_SETTINGS_USERS:
        raise ValueError(f"at most {MAX_SETTINGS_USERS} user ids at once, got {len(user_ids)}")


def check_member_ids(user_ids: Sequence[str]) -> list[str]:
    """``user_ids`` without repeats (first order kept), or ``ValueError`` past
    :data:`MAX_MEMBER_IDS`."""
    if len(user_ids) > MAX_MEMBER_IDS:
        raise ValueError(f"at most {MAX_MEMBER_IDS} user ids at once, got {len(user_ids)}")
    return list(dict.fromkeys(user_ids))


class Store(Protocol):
    """What the persister writes to and the read API reads from."""

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"mongodb"``, for logs and readiness details."""
        ...

    async def upsert_many(self, records: Sequence[StoredNotification]) -> None:
        """Write ``records`` (see the module's contract); raises if the store did not confirm.
        The same as :meth:`upsert_rows` of their rows."""
        ...

    async def upsert_rows(self, rows: Sequence[Row]) -> None:
        """Write ``rows`` (see the module's contract): the persister's path, which decodes
        stream entries straight into rows (:mod:`common.rows`)."""
        ...

    async def history(
        self, tenant_id: str, user_id: str, limit: int, cursor: str | None = None,
        *, archived: bool = False,
    ) -> tuple[list[StoredNotification], str | None]:
        """One page, newest first, and the cursor of the next page (``None`` on the last);
        the unarchived notifications, or (``archived``) only the archived ones."""
        ...

    async def counts(self, tenant_id: str, user_id: str) -> InboxCounts:
        """The user's stored notifications not seen and not read, in one snapshot."""
        ...

    async def mark(self, tenant_id: str, user_id: str, notification_ids: Sequence[str],
                   mark: Mark, at: datetime) -> list[str]:
        """Apply ``mark`` to those ids (see the module's contract); the ids stored for this
        user (at most :data:`MAX_PAGE` at once)."""
        ...

    async def mark_all(self, tenant_id: str, user_id: str, mark: Mark, at: datetime,
                       created_until: datetime) -> int:
        """Apply ``mark`` to every notification of the user created at or before
        ``created_until`` that it changes; how many it changed."""
        ...

    async def unread_count(self, tenant_id: str, user_id: str) -> int:
        """Stored notifications of the user whose ``readAt`` is still unset."""
        ...

    async def mark_read(
        self, tenant_id: str, user_id: str, notification_id: str, at: datetime
    ) -> bool:
        """Set ``readAt`` (the first time only). ``False`` when the id is not stored for
        this user, in which case nothing changed."""
        ...

    async def mark_all_read(self, tenant_id: str, user_id: str, at: datetime) -> int:
        """Set ``readAt`` on every stored notification of the user that has none; how many
        were marked."""
        ...

    async def get(
        self, tenant_id: str, user_id: str, notification_id: str
    ) -> StoredNotification | None:
        """The user's stored notification, or ``None`` (also when another user owns it)."""
        ...

    async def erase_user(
        self, tenant_id: str, user_id: str, *, created_until: datetime | None = None
    ) -> int:
        """Delete the user's rows (only those created at or before ``created_until`` when
        given); how many went. Raises if the store did not confirm (a retry is safe)."""
        ...

    async def export_user(
        self, tenant_id: str, user_id: str, limit: int
    ) -> list[StoredNotification]:
        """Up to ``limit`` (1 to :data:`MAX_EXPORT`) of the user's rows, newest first."""
        ...

    async def create_tenant(self, tenant: Tenant) -> bool:
        """Store a new tenant; ``False`` (nothing changed) when its id is taken."""
        ...

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        ...

    async def list_tenants(self) -> list[Tenant]:
        ...

    async def set_tenant_limits(
        self, tenant_id: str, rate_per_second: float | None, burst: int | None
    ) -> bool:
        """Set (``None``: back to the defaults) a tenant's limits; ``False`` if no tenant."""
        ...

    async def add_key(self, key: ApiKey) -> bool:
        """Store a new key; ``False`` (nothing changed) when its id is taken."""
        ...

    async def get_key(self, key_id: str) -> ApiKey | None:
        ...

    async def list_keys(self, tenant_id: str) -> list[ApiKey]:
        ...

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked (the first time only); the key as now stored, or ``None``."""
        ...

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        """The tenant's stored types, templates and default locale (empty when none)."""
        ...

    async def put_type(self, tenant_id: str, typedef: TypeDef) -> bool:
        """Store (replace) a type's definition; ``True`` when it was not stored before."""
        ...

    async def delete_type(self, tenant_id: str, name: str) -> bool:
        """Remove a stored definition; ``False`` when there was none."""
        ...

    async def put_template(self, tenant_id: str, type_name: str, locale: str, source: str,
                           at: datetime) -> TemplateDef:
        """Store a template; its version is the previous one's plus one (1 for the first)."""
        ...

    async def delete_template(self, tenant_id: str, type_name: str, locale: str) -> bool:
        """Remove a stored template (its version is remembered); ``False`` when none."""
        ...

    async def set_default_locale(self, tenant_id: str, locale: str) -> None:
        ...

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        """The settings of those of ``user_ids`` that have any (absent users are absent)."""
        ...

    async def put_profile(self, tenant_id: str, user_id: str, locale: str | None,
                          time_zone: str | None, at: datetime) -> UserSettings:
        ...

    async def put_preferences(self, tenant_id: str, user_id: str, types: Mapping[str, bool],
                              quiet_hours: QuietHours | None, at: datetime) -> UserSettings:
        ...

    async def subscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str],
                        at: datetime) -> int:
        """Subscribe ``user_ids`` to ``topic`` (made ``at``; one already there keeps its time);
        how many subscriptions are new."""
        ...

    async def unsubscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str]) -> int:
        """Remove those of ``user_ids`` subscribed to ``topic``; how many went."""
        ...

    async def subscribers(self, tenant_id: str, topic: str, *, after: str | None, limit: int,
                          made_until: datetime | None = None) -> list[str]:
        """Up to ``limit`` subscribers of ``topic`` by ascending user id, after ``after``;
        with ``made_until``, only those subscribed at or before it."""
        ...

    async def topics_of(self, tenant_id: str, user_id: str) -> list[str]:
        """The topics ``user_id`` is subscribed to, by name."""
        ...

    async def add_known_users(self, tenant_id: str, user_ids: Sequence[str],
                              at: datetime) -> int:
        """Record ``user_ids`` as users the tenant has (insert-if-absent); how many are new."""
        ...

    async def known_users(self, tenant_id: str, *, after: str | None, limit: int) -> list[str]:
        """Up to ``limit`` of the tenant's known users by ascending user id, after
        ``after``."""
        ...

    async def prune(self, now: datetime) -> int:
        """Delete what became acked/expired more than the retention before ``now``; the number
        deleted. MongoDB's TTL index does this on its own, so there it returns 0."""
        ...

    async def ping(self) -> None:
        """Return when the store answers; raise otherwise (readiness probe)."""
        ...

    async def close(self) -> None:
        ...
