"""The SQLite backend: one file, WAL, every call on one dedicated thread.

Why one thread of its own (the stdlib ``sqlite3``; aiosqlite is not a dependency and would do
the same): ``sqlite3`` blocks, and a connection must not be used from two threads at once.
The connection is made on, and only ever used from, a one-thread executor, so

* the event loop never waits on the disk (``fsync``) or on another process's lock;
* every call of this process runs in order, one at a time: one writer per process, which is
  all SQLite allows per database anyway, and never "database is locked" from ourselves;
* reads queue behind a write batch (milliseconds); WAL lets *other* processes (the producer's
  read API) read while this one writes. Between processes a writer waits up to
  ``busy_timeout_ms`` for the lock, then the call raises ``sqlite3.OperationalError`` and the
  caller retries.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``: a commit returns after the WAL is
fsynced, so what ``upsert_rows`` confirmed survives a power cut; the persister acks the stream
only after that (``NORMAL`` would be faster and could lose the last commits). The WAL is
checkpointed into the database every ``WAL_CHECKPOINT_PAGES`` pages (SQLite's default is
1000, 4 MB, which a batch of 2000 random-id rows fills on its own, so that every commit paid
a checkpoint): a page written by several batches is copied back once. That costs up to about
40 MB of WAL file, not durability. The page cache (``CACHE_KIB`` per connection, filled only
as pages are used; SQLite's default is 2 MB) keeps more of the indexes' pages between
batches: 16 MiB gave 38,300/s on the persister benchmark, 64 MiB 38,900/s for 47 MiB more
RSS, the default 35,100/s.

A batch is one statement: the rows go in as one JSON array (``json_each``), so one call
takes the batch, and with autocommit it is one transaction (atomic, fsynced when it returns).
The writer thread holds the GIL only to start and to end it, and the event loop decodes the
next batch meanwhile; ``executemany`` took the GIL back for every row, so the two threads
kept waiting on each other. The merge rule is SQL, applied row by row in the array's order:
``INSERT ... ON CONFLICT(id) DO UPDATE ... WHERE`` skips the update when the stored row is
``acked`` and the new one is not, or belongs to another tenant or user, and keeps
``read_ms`` and ``seen_ms`` once set, and ``archived_ms`` as stored — but a body of a
higher ``version`` (a digest's update) wins, with its states (:func:`common.rows.merge`).
Retention: :meth:`SqliteStore.prune` deletes rows
whose status is older than ``STORE_RETENTION_DAYS``, ``PRUNE_CHUNK`` rows per transaction so
that no reader or writer waits long; the persister calls it on a timer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson

from common.catalog import DEFAULT_LOCALE, TemplateDef, TenantConfig, TypeDef
from common.millis import from_ms, to_ms
from common.models import Notification
from common.preferences import QuietHours, UserSettings
from common.records import InboxCounts, Mark, Status, StoredNotification
from common.rows import Row, row_of
from common.store.base import (
    MAX_EXPORT,
    MAX_MEMBER_PAGE,
    MAX_PAGE,
    check_limit,
    check_member_ids,
    check_settings_users,
)
from common.store.cursor import decode_cursor, encode_cursor
from common.tenancy import ApiKey, Tenant

__all__ = ["PRUNE_CHUNK", "SqliteStore"]

T = TypeVar("T")
Values = tuple[Any, ...]

PRUNE_CHUNK = 5000
WAL_CHECKPOINT_PAGES = 10_000
CACHE_KIB = 16_384
SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'acked', 'expired')),
    status_ms   INTEGER NOT NULL,
    read_ms     INTEGER,
    body        TEXT NOT NULL,
    seen_ms     INTEGER,
    archived_ms INTEGER
);
CREATE INDEX IF NOT EXISTS notifications_user_newest
    ON notifications (tenant_id, user_id, created_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS notifications_user_unread
    ON notifications (tenant_id, user_id) WHERE read_ms IS NULL;
CREATE INDEX IF NOT EXISTS notifications_status_ms ON notifications (status_ms);
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    rate        REAL,
    burst       INTEGER
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant_id, created_ms, key_id);
CREATE TABLE IF NOT EXISTS event_types (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE IF NOT EXISTS templates (
    tenant_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    locale      TEXT NOT NULL,
    source      TEXT,
    version     INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, type, locale)
);
CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant_id       TEXT PRIMARY KEY,
    default_locale  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_settings (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    locale      TEXT,
    time_zone   TEXT,
    types       TEXT NOT NULL,
    quiet_start TEXT,
    quiet_end   TEXT,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    tenant_id   TEXT NOT NULL,
    topic       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    made_ms     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, topic, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_user ON subscriptions (tenant_id, user_id, topic);
CREATE TABLE IF NOT EXISTS known_users (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
"""
# Schema 3 (issue 19) adds event_types, templates, tenant_settings and user_settings; schema
# 4 (issue 20) subscriptions and known_users, and ``seen_ms`` and ``archived_ms``
# (``ALTER TABLE`` on an older file, :func:`_add_state_columns`) with the unseen index after
# them. A file of an older schema gets the tables when opened (every statement above is IF
# NOT EXISTS).
_STATE_INDEXES = """
CREATE INDEX IF NOT EXISTS notifications_user_unseen
    ON notifications (tenant_id, user_id) WHERE seen_ms IS NULL;
"""


def _add_state_columns(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(notifications)")}
    for column in ("seen_ms", "archived_ms"):
        if column not in have:
            conn.execute(f"ALTER TABLE notifications ADD COLUMN {column} INTEGER")

_UPSERT = """
INSERT INTO notifications
    (id, tenant_id, user_id, created_ms, status, status_ms, read_ms, body, seen_ms,
     archived_ms)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
       json_extract(value, '$[9]')
FROM json_each(?1) WHERE true
ON CONFLICT (id) DO UPDATE SET
    created_ms = CASE WHEN {kept} THEN notifications.created_ms ELSE excluded.created_ms END,
    status = CASE WHEN {kept} THEN notifications.status ELSE excluded.status END,
    status_ms = CASE WHEN {kept} THEN notifications.status_ms ELSE excluded.status_ms END,
    read_ms = CASE WHEN {new_v} > {old_v} THEN excluded.read_ms
                   WHEN {new_v} < {old_v} THEN notifications.read_ms
                   ELSE COALESCE(notifications.read_ms, excluded.read_ms) END,
    seen_ms = CASE WHEN {new_v} > {old_v} THEN excluded.seen_ms
                   WHEN {new_v} < {old_v} THEN notifications.seen_ms
                   ELSE COALESCE(notifications.seen_ms, excluded.seen_ms) END,
    archived_ms = CASE WHEN {new_v} > {old_v} THEN excluded.archived_ms
                       ELSE notifications.archived_ms END,
    body = CASE WHEN {new_v} > {old_v} THEN excluded.body
                WHEN {new_v} < {old_v} THEN notifications.body
                WHEN {kept} THEN notifications.body ELSE excluded.body END
WHERE notifications.tenant_id = excluded.tenant_id
  AND notifications.user_id = excluded.user_id
""".format(kept="(notifications.status = 'acked' AND excluded.status <> 'acked')",
           new_v="COALESCE(json_extract(excluded.body, '$.version'), 1)",
           old_v="COALESCE(json_extract(notifications.body, '$.version'), 1)")
"""The merge rule of :func:`common.rows.merge` in SQL (a digest's higher ``version`` wins the
body and its states: an update makes it unseen, unread and unarchived again). The version
is read from the bodies, on a conflict only: no column, no migration."""

_COLUMNS = "created_ms, id, status, status_ms, read_ms, body, seen_ms, archived_ms"


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: autocommit; every write is one statement, so one transaction.
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Only a new database needs the write lock: a process opening a file that another
        # (the persister) writes to all the time would otherwise wait for it at start.
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            _add_state_columns(conn)
            conn.executescript(_STATE_INDEXES)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _record_of(row: Values) -> StoredNotification:
    _created, _id, status, status_ms, read_ms, body, seen_ms, archived_ms = row
    return StoredNotification(
        notification=Notification.model_validate_json(body),
        status=Status(status),
        statusAt=from_ms(status_ms),
        readAt=from_ms(read_ms) if read_ms is not None else None,
        seenAt=from_ms(seen_ms) if seen_ms is not None else None,
        archivedAt=from_ms(archived_ms) if archived_ms is not None else None,
    )


def _set_clause(mark: Mark) -> str:
    """The SET of a mark: each state it implies kept once set (``?1``: the time)."""
    if mark is Mark.UNARCHIVED:
        return "archived_ms = NULL"
    return ", ".join(f"{state}_ms = COALESCE({state}_ms, ?1)" for state in mark.sets)


def _lacks(mark: Mark) -> str:
    """The rows ``mark`` changes (its strongest state unset; archived for unarchive)."""
    return {Mark.SEEN: "seen_ms IS NULL", Mark.READ: "read_ms IS NULL",
            Mark.ARCHIVED: "archived_ms IS NULL",
            Mark.UNARCHIVED: "archived_ms IS NOT NULL"}[mark]


_TENANT_COLUMNS = "id, name, created_ms, rate, burst"
_KEY_COLUMNS = "key_id, tenant_id, hash, scopes, created_ms, revoked_ms, name"


def _tenant_of(row: Values) -> Tenant:
    tenant_id, name, created_ms, rate, burst = row
    return Tenant(tenant_id, name, from_ms(created_ms), rate, burst)


def _key_of(row: Values) -> ApiKey:
    key_id, tenant_id, hashed, scopes, created_ms, revoked_ms, name = row
    return ApiKey(key_id, tenant_id, hashed, frozenset(orjson.loads(scopes)),
                  from_ms(created_ms), from_ms(revoked_ms) if revoked_ms is not None else None,
                  name)


_SETTINGS_COLUMNS = "user_id, locale, time_zone, types, quiet_start, quiet_end, updated_ms"


def _settings_of(row: Values) -> tuple[str, UserSettings]:
    user_id, locale, time_zone, types, quiet_start, quiet_end, updated_ms = row
    quiet = QuietHours.parse(quiet_start, quiet_end) if quiet_start is not None else None
    return user_id, UserSettings(locale, time_zone, orjson.loads(types), quiet,
                                 from_ms(updated_ms))


def _read_config(conn: sqlite3.Connection, tenant_id: str) -> TenantConfig:
    """The three reads in one transaction: one snapshot of the tenant's config (WAL)."""
    conn.execute("BEGIN")
    try:
        types = conn.execute("SELECT body FROM event_types WHERE tenant_id = ?",
                             (tenant_id,)).fetchall()
        templates = conn.execute(
            "SELECT type, locale, source, version, updated_ms FROM templates "
            "WHERE tenant_id = ? AND source IS NOT NULL", (tenant_id,)).fetchall()
        locale = conn.execute("SELECT default_locale FROM tenant_settings WHERE tenant_id = ?",
                              (tenant_id,)).fetchone()
    finally:
        conn.execute("COMMIT")
    defs = [TypeDef.from_json(orjson.loads(body)) for (body,) in types]
    stored = [TemplateDef(t, loc, src, version, from_ms(ms))
              for t, loc, src, version, ms in templates]
    return TenantConfig(tenant_id, {d.name: d for d in defs},
                        {(t.type, t.locale): t for t in stored},
                        locale[0] if locale is not None else DEFAULT_LOCALE)


def _in_transaction(conn: sqlite3.Connection, statements: Sequence[tuple[str, Values]]
                    ) -> list[int]:
    """Every statement or none (``BEGIN IMMEDIATE``: the write lock from the start); the
    rows each changed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        counts = [conn.execute(sql, args).rowcount for sql, args in statements]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return counts


def _write(conn: sqlite3.Connection, batch: str) -> None:
    """One statement, so one transaction (autocommit: atomic, durable when it returns)."""
    conn.execute(_UPSERT, (batch,))


class SqliteStore:
    """Open with :meth:`open`; see the module docstring for threading and durability."""

    def __init__(
        self, executor: ThreadPoolExecutor, conn: sqlite3.Connection, retention_days: float
    ) -> None:
        self._executor = executor
        self._conn = conn
        self._retention = timedelta(days=retention_days)
        self._closed = False

    @property
    def backend(self) -> str:
        return "sqlite"

    @classmethod
    async def open(
        cls, path: str, *, retention_days: float = 90.0, busy_timeout_ms: int = 5000
    ) -> SqliteStore:
        """Create the file (and its directory) and the schema if missing; raises
        ``sqlite3.Error`` or ``OSError`` when the path cannot hold a database."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-sqlite")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, _connect, path, busy_timeout_ms)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, conn, retention_days)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError("the SQLite store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, self._conn)

    async def upsert_many(self, records: Sequence[StoredNotification]) -> None:
        await self.upsert_rows([row_of(r) for r in records])

    async def upsert_rows(self, rows: Sequence[Row]) -> None:
        if rows:
            # In the caller's thread: the writer thread then holds the GIL only to start and
            # to end the statement, and SQLite works while the event loop goes on.
            batch = orjson.dumps(rows, option=orjson.OPT_UTC_Z, default=_row_as_list).decode()
            await self._call(lambda conn: _write(conn, batch))

    async def history(
        self, tenant_id: str, user_id: str, limit: int, cursor: str | None = None,
        *, archived: bool = False,
    ) -> tuple[list[StoredNotification], str | None]:
        check_limit(limit)
        sql = (f"SELECT {_COLUMNS} FROM notifications WHERE tenant_id = ? AND user_id = ? "
               f"AND archived_ms IS {'NOT ' if archived else ''}NULL")
        args: list[Any] = [tenant_id, user_id]
        if cursor is not None:
            created_ms, last_id = decode_cursor(cursor)
            sql += " AND (created_ms < ? OR (created_ms = ? AND id < ?))"
            args += [created_ms, created_ms, last_id]
        sql += " ORDER BY created_ms DESC, id DESC LIMIT ?"
        args.append(limit + 1)
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        page = rows[:limit]
        following = encode_cursor(page[-1][0], page[-1][1]) if len(rows) > limit else None
        return [_record_of(r) for r in page], following

    async def unread_count(self, tenant_id: str, user_id: str) -> int:
        sql = ("SELECT count(*) FROM notifications "
               "WHERE tenant_id = ? AND user_id = ? AND read_ms IS NULL")
        row = await self._call(lambda conn: conn.execute(sql, (tenant_id, user_id)).fetchone())
        return int(row[0])

    async def counts(self, tenant_id: str, user_id: str) -> InboxCounts:
        sql = ("SELECT (SELECT count(*) FROM notifications WHERE tenant_id = ?1 "
               "AND user_id = ?2 AND seen_ms IS NULL), (SELECT count(*) FROM notifications "
               "WHERE tenant_id = ?1 AND user_id = ?2 AND read_ms IS NULL)")
        row = await self._call(lambda conn: conn.execute(sql, (tenant_id, user_id)).fetchone())
        return InboxCounts(int(row[0]), int(row[1]))

    async def mark(self, tenant_id: str, user_id: str, notification_ids: Sequence[str],
                   mark: Mark, at: datetime) -> list[str]:
        check_limit(len(notification_ids) or 1, MAX_PAGE)
        if not notification_ids:
            return []
        # One statement: the update and the answer (RETURNING every row it matched).
        sql = (f"UPDATE notifications SET {_set_clause(mark)} WHERE tenant_id = ?2 "
               "AND user_id = ?3 AND id IN (SELECT value FROM json_each(?4)) RETURNING id")
        args = (to_ms(at), tenant_id, user_id, orjson.dumps(list(notification_ids)).decode())
        rows = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [r[0] for r in rows]

    async def mark_all(self, tenant_id: str, user_id: str, mark: Mark, at: datetime,
                       created_until: datetime) -> int:
        sql = (f"UPDATE notifications SET {_set_clause(mark)} WHERE tenant_id = ?2 "
               f"AND user_id = ?3 AND created_ms <= ?4 AND {_lacks(mark)}")
        args = (to_ms(at), tenant_id, user_id, to_ms(created_until))
        changed: int = await self._call(lambda conn: conn.execute(sql, args).rowcount)
        return changed

    async def mark_read(
        self, tenant_id: str, user_id: str, notification_id: str, at: datetime
    ) -> bool:
        return bool(await self.mark(tenant_id, user_id, [notification_id], Mark.READ, at))

    async def mark_all_read(self, tenant_id: str, user_id: str, at: datetime) -> int:
        return await self.mark_all(tenant_id, user_id, Mark.READ, at, at)

    async def get(
        self, tenant_id: str, user_id: str, notification_id: str
    ) -> StoredNotification | None:
        sql = (f"SELECT {_COLUMNS} FROM notifications "
               "WHERE id = ? AND tenant_id = ? AND user_id = ?")
        args = (notification_id, tenant_id, user_id)
        row: Values | None = await self._call(lambda conn: conn.execute(sql, args).fetchone())
        return _record_of(row) if row is not None else None

    async def erase_user(
        self, tenant_id: str, user_id: str, *, created_until: datetime | None = None
    ) -> int:
        sql = "DELETE FROM notifications WHERE tenant_id = ? AND user_id = ?"
        settings = "DELETE FROM user_settings WHERE tenant_id = ? AND user_id = ?"
        topics = "DELETE FROM subscriptions WHERE tenant_id = ? AND user_id = ?"
        known = "DELETE FROM known_users WHERE tenant_id = ? AND user_id = ?"
        args: list[Any] = [tenant_id, user_id]
        if created_until is not None:
            sql += " AND created_ms <= ?"
            settings += " AND updated_ms <= ?"
            topics += " AND made_ms <= ?"
            known += " AND at_ms <= ?"
            args.append(to_ms(created_until))
        # One transaction, durable when it returns (synchronous=FULL).
        deleted, *_ = await self._call(lambda conn: _in_transaction(
            conn, [(statement, tuple(args)) for statement in (sql, settings, topics, known)]))
        return deleted

    async def export_user(
        self, tenant_id: str, user_id: str, limit: int
    ) -> list[StoredNotification]:
        check_limit(limit, MAX_EXPORT)
        sql = (f"SELECT {_COLUMNS} FROM notifications WHERE tenant_id = ? AND user_id = ? "
               "ORDER BY created_ms DESC, id DESC LIMIT ?")
        args = (tenant_id, user_id, limit)
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [_record_of(r) for r in rows]

    async def create_tenant(self, tenant: Tenant) -> bool:
        sql = (f"INSERT INTO tenants ({_TENANT_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO NOTHING")
        args = (tenant.id, tenant.name, to_ms(tenant.created_at), tenant.rate_per_second,
                tenant.burst)
        return bool(await self._call(lambda conn: conn.execute(sql, args).rowcount) == 1)

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        sql = f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ?"
        row: Values | None = await self._call(
            lambda conn: conn.execute(sql, (tenant_id,)).fetchone())
        return _tenant_of(row) if row is not None else None

    async def list_tenants(self) -> list[Tenant]:
        sql = f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY created_ms, id"
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql).fetchall())
        return [_tenant_of(r) for r in rows]

    async def set_tenant_limits(
        self, tenant_id: str, rate_per_second: float | None, burst: int | None
    ) -> bool:
        sql = "UPDATE tenants SET rate = ?, burst = ? WHERE id = ?"
        args = (rate_per_second, burst, tenant_id)
        return bool(await self._call(lambda conn: conn.execute(sql, args).rowcount) == 1)

    async def add_key(self, key: ApiKey) -> bool:
        sql = (f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (key_id) DO NOTHING")
        args = (key.key_id, key.tenant_id, key.hash, orjson.dumps(sorted(key.scopes)).decode(),
                to_ms(key.created_at),
                to_ms(key.revoked_at) if key.revoked_at is not None else None, key.name)
        return bool(await self._call(lambda conn: conn.execute(sql, args).rowcount) == 1)

    async def get_key(self, key_id: str) -> ApiKey | None:
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = ?"
        row: Values | None = await self._call(
            lambda conn: conn.execute(sql, (key_id,)).fetchone())
        return _key_of(row) if row is not None else None

    async def list_keys(self, tenant_id: str) -> list[ApiKey]:
        sql = (f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? "
               "ORDER BY created_ms, key_id")
        rows: list[Values] = await self._call(
            lambda conn: conn.execute(sql, (tenant_id,)).fetchall())
        return [_key_of(r) for r in rows]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        sql = "UPDATE api_keys SET revoked_ms = COALESCE(revoked_ms, ?) WHERE key_id = ?"
        args = (to_ms(at), key_id)
        await self._call(lambda conn: conn.execute(sql, args))
        return await self.get_key(key_id)

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        return await self._call(lambda conn: _read_config(conn, tenant_id))

    async def put_type(self, tenant_id: str, typedef: TypeDef) -> bool:
        body = orjson.dumps(typedef.to_json()).decode()

        def put(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")  # the check and the write under one lock
            try:
                existed = conn.execute(
                    "SELECT 1 FROM event_types WHERE tenant_id = ? AND name = ?",
                    (tenant_id, typedef.name)).fetchone() is not None
                conn.execute("INSERT INTO event_types (tenant_id, name, body) VALUES (?, ?, ?) "
                             "ON CONFLICT (tenant_id, name) DO UPDATE SET body = excluded.body",
                             (tenant_id, typedef.name, body))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return not existed

        return await self._call(put)

    async def delete_type(self, tenant_id: str, name: str) -> bool:
        sql = "DELETE FROM event_types WHERE tenant_id = ? AND name = ?"
        return bool(await self._call(lambda conn: conn.execute(sql, (tenant_id, name)).rowcount))

    async def put_template(self, tenant_id: str, type_name: str, locale: str, source: str,
                           at: datetime) -> TemplateDef:
        sql = ("INSERT INTO templates (tenant_id, type, locale, source, version, updated_ms) "
               "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (tenant_id, type, locale) DO UPDATE SET "
               "source = excluded.source, version = templates.version + 1, "
               "updated_ms = excluded.updated_ms RETURNING version, updated_ms")
        args = (tenant_id, type_name, locale, source, to_ms(at))
        version, updated_ms = await self._call(lambda conn: conn.execute(sql, args).fetchone())
        return TemplateDef(type_name, locale, source, version, from_ms(updated_ms))

    async def delete_template(self, tenant_id: str, type_name: str, locale: str) -> bool:
        # The row stays, without source, so that the next save continues its version.
        sql = ("UPDATE templates SET source = NULL "
               "WHERE tenant_id = ? AND type = ? AND locale = ? AND source IS NOT NULL")
        args = (tenant_id, type_name, locale)
        return bool(await self._call(lambda conn: conn.execute(sql, args).rowcount))

    async def set_default_locale(self, tenant_id: str, locale: str) -> None:
        sql = ("INSERT INTO tenant_settings (tenant_id, default_locale) VALUES (?, ?) "
               "ON CONFLICT (tenant_id) DO UPDATE SET default_locale = excluded.default_locale")
        await self._call(lambda conn: conn.execute(sql, (tenant_id, locale)))

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        check_settings_users(user_ids)
        if not user_ids:
            return {}
        sql = (f"SELECT {_SETTINGS_COLUMNS} FROM user_settings WHERE tenant_id = ? "
               "AND user_id IN (SELECT value FROM json_each(?))")
        args = (tenant_id, orjson.dumps(list(user_ids)).decode())
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return dict(_settings_of(row) for row in rows)

    async def put_profile(self, tenant_id: str, user_id: str, locale: str | None,
                          time_zone: str | None, at: datetime) -> UserSettings:
        sql = (f"INSERT INTO user_settings (tenant_id, {_SETTINGS_COLUMNS}) "
               "VALUES (?, ?, ?, ?, '{}', NULL, NULL, ?) ON CONFLICT (tenant_id, user_id) "
               "DO UPDATE SET locale = excluded.locale, time_zone = excluded.time_zone, "
               f"updated_ms = excluded.updated_ms RETURNING {_SETTINGS_COLUMNS}")
        args = (tenant_id, user_id, locale, time_zone, to_ms(at))
        row: Values = await self._call(lambda conn: conn.execute(sql, args).fetchone())
        return _settings_of(row)[1]

    async def put_preferences(self, tenant_id: str, user_id: str, types: Mapping[str, bool],
                              quiet_hours: QuietHours | None, at: datetime) -> UserSettings:
        quiet = quiet_hours.to_json() if quiet_hours is not None else None
        sql = (f"INSERT INTO user_settings (tenant_id, {_SETTINGS_COLUMNS}) "
               "VALUES (?, ?, NULL, NULL, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id) "
               "DO UPDATE SET types = excluded.types, quiet_start = excluded.quiet_start, "
               "quiet_end = excluded.quiet_end, updated_ms = excluded.updated_ms "
               f"RETURNING {_SETTINGS_COLUMNS}")
        args = (tenant_id, user_id, orjson.dumps(dict(types)).decode(),
                quiet["start"] if quiet else None, quiet["end"] if quiet else None, to_ms(at))
        row: Values = await self._call(lambda conn: conn.execute(sql, args).fetchone())
        return _settings_of(row)[1]

    async def subscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str],
                        at: datetime) -> int:
        ids = check_member_ids(user_ids)
        if not ids:
            return 0
        sql = ("INSERT INTO subscriptions (tenant_id, topic, user_id, made_ms) "
               "SELECT ?, ?, value, ? FROM json_each(?) WHERE true "
               "ON CONFLICT (tenant_id, topic, user_id) DO NOTHING")
        args = (tenant_id, topic, to_ms(at), orjson.dumps(ids).decode())
        made: int = await self._call(lambda conn: conn.execute(sql, args).rowcount)
        return made

    async def unsubscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str]) -> int:
        ids = check_member_ids(user_ids)
        if not ids:
            return 0
        sql = ("DELETE FROM subscriptions WHERE tenant_id = ? AND topic = ? "
               "AND user_id IN (SELECT value FROM json_each(?))")
        args = (tenant_id, topic, orjson.dumps(ids).decode())
        gone: int = await self._call(lambda conn: conn.execute(sql, args).rowcount)
        return gone

    async def subscribers(self, tenant_id: str, topic: str, *, after: str | None, limit: int,
                          made_until: datetime | None = None) -> list[str]:
        check_limit(limit, MAX_MEMBER_PAGE)
        sql = "SELECT user_id FROM subscriptions WHERE tenant_id = ? AND topic = ?"
        args: list[Any] = [tenant_id, topic]
        if after is not None:
            sql += " AND user_id > ?"
            args.append(after)
        if made_until is not None:
            sql += " AND made_ms <= ?"
            args.append(to_ms(made_until))
        sql += " ORDER BY user_id LIMIT ?"
        args.append(limit)
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [user for (user,) in rows]

    async def topics_of(self, tenant_id: str, user_id: str) -> list[str]:
        sql = "SELECT topic FROM subscriptions WHERE tenant_id = ? AND user_id = ? ORDER BY topic"
        rows: list[Values] = await self._call(
            lambda conn: conn.execute(sql, (tenant_id, user_id)).fetchall())
        return [topic for (topic,) in rows]

    async def add_known_users(self, tenant_id: str, user_ids: Sequence[str],
                              at: datetime) -> int:
        ids = check_member_ids(user_ids)
        if not ids:
            return 0
        sql = ("INSERT INTO known_users (tenant_id, user_id, at_ms) "
               "SELECT ?, value, ? FROM json_each(?) WHERE true "
               "ON CONFLICT (tenant_id, user_id) DO NOTHING")
        args = (tenant_id, to_ms(at), orjson.dumps(ids).decode())
        made: int = await self._call(lambda conn: conn.execute(sql, args).rowcount)
        return made

    async def known_users(self, tenant_id: str, *, after: str | None, limit: int) -> list[str]:
        check_limit(limit, MAX_MEMBER_PAGE)
        sql = "SELECT user_id FROM known_users WHERE tenant_id = ?"
        args: list[Any] = [tenant_id]
        if after is not None:
            sql += " AND user_id > ?"
            args.append(after)
        sql += " ORDER BY user_id LIMIT ?"
        args.append(limit)
        rows: list[Values] = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [user for (user,) in rows]

    async def prune(self, now: datetime) -> int:
        cutoff = to_ms(now - self._retention)
        sql = ("DELETE FROM notifications WHERE rowid IN "
               "(SELECT rowid FROM notifications WHERE status_ms < ? LIMIT ?)")
        total = 0
        while True:
            # One chunk per job: other calls of this process run between the chunks.
            deleted: int = await self._call(
                lambda conn: conn.execute(sql, (cutoff, PRUNE_CHUNK)).rowcount
            )
            total += deleted
            if deleted < PRUNE_CHUNK:
                return total

    async def ping(self) -> None:
        await self._call(lambda conn: conn.execute("SELECT 1 FROM notifications LIMIT 1"))

    async def close(self) -> None:
        if self._closed:
            return
        await self._call(lambda conn: conn.close())
        self._closed = True
        self._executor.shutdown(wait=False)


def _row_as_list(value: Any) -> list[Any]:
    """orjson's fallback: a ``Row`` (a NamedTuple, which orjson does not serialise) as its
    list of fields; anything else it cannot serialise stays an error."""
    if isinstance(value, Row):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
