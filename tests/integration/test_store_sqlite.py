"""What only the SQLite backend does: its file, WAL, locks between processes, retention."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.models import EventType, Notification, Priority
from common.records import InboxCounts, Mark, Status, StoredNotification
from common.store import open_store
from common.store.sqlite import CACHE_KIB, WAL_CHECKPOINT_PAGES, SqliteStore

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def rec(nid: str, status_at: datetime = NOW, status: Status = Status.ACKED) -> StoredNotification:
    n = Notification(id=nid, tenantId="t1", userId="u1", type=EventType.FOLLOW, actorId="a",
                     eventId=f"e-{nid}", message="a started following you",
                     priority=Priority.PROMOTIONAL, createdAt=status_at,
                     expiresAt=status_at + timedelta(days=1))
    return StoredNotification(notification=n, status=status, statusAt=status_at)


async def test_open_store_makes_the_directory_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "herald.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        assert store.backend == "sqlite"
        await store.upsert_many([rec("n1")])
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM notifications").fetchone()[0] == 1


async def test_a_path_that_cannot_hold_a_database_fails_to_open(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises((OSError, sqlite3.Error)):
        await open_store(f"sqlite:///{blocker}/herald.db")


async def test_a_write_lock_held_elsewhere_fails_the_batch_whole_then_it_goes_through(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    store = await open_store(f"sqlite:///{path}?busy_timeout_ms=100")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await store.upsert_many([rec("n1"), rec("n2")])
        other.execute("ROLLBACK")
        assert await store.history("t1", "u1", 10) == ([], None)
        await store.upsert_many([rec("n1"), rec("n2")])
        assert len((await store.history("t1", "u1", 10))[0]) == 2
    finally:
        other.close()
        await store.close()


async def test_a_second_store_on_the_same_file_reads_what_the_first_wrote(
    tmp_path: Path,
) -> None:
    writer = await SqliteStore.open(str(tmp_path / "h.db"))
    reader = await SqliteStore.open(str(tmp_path / "h.db"))
    try:
        await writer.upsert_many([rec("n1")])
        assert await reader.mark_read("t1", "u1", "n1", NOW)
        assert await writer.unread_count("t1", "u1") == 0
    finally:
        await writer.close()
        await reader.close()


async def test_prune_deletes_what_is_past_retention(tmp_path: Path) -> None:
    store = await SqliteStore.open(str(tmp_path / "h.db"), retention_days=30)
    try:
        old = [rec(f"old-{i}", NOW - timedelta(days=31)) for i in range(3)]
        await store.upsert_many([*old, rec("recent", NOW - timedelta(days=29))])
        assert await store.prune(NOW) == 3
        items, _ = await store.history("t1", "u1", 10)
        assert [r.notification.id for r in items] == ["recent"]
        assert await store.prune(NOW) == 0
    finally:
        await store.close()


async def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = await SqliteStore.open(str(tmp_path / "h.db"))
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.ping()


async def test_durability_is_kept_full_with_a_larger_wal(tmp_path: Path) -> None:
    """Commits fsync the WAL (synchronous=FULL); checkpoints are only rarer (WAL_CHECKPOINT_
    PAGES), which costs disk, not durability."""
    store = await SqliteStore.open(str(tmp_path / "h.db"))
    try:
        settings = await store._call(lambda conn: [
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "cache_size")])
    finally:
        await store.close()
    assert settings == ["wal", 2, WAL_CHECKPOINT_PAGES, -CACHE_KIB]


async def test_a_schema_2_file_gets_the_configuration_tables_when_opened(
    tmp_path: Path,
) -> None:
    """A database made before issue 19 (schema 2) keeps its rows and gains the four tables
    of tenants' and users' configuration."""
    path = tmp_path / "old.db"
    store = await open_store(f"sqlite:///{path}")
    await store.upsert_many([rec("n1")])
    await store.close()
    conn = sqlite3.connect(path)
    with conn:
        for table in ("event_types", "templates", "tenant_settings", "user_settings"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.set_default_locale("t1", "de")
        assert (await store.get_tenant_config("t1")).default_locale == "de"
        assert len((await store.history("t1", "u1", 10))[0]) == 1
    finally:
        await store.close()


async def test_a_schema_3_file_gains_the_inbox_state_columns_when_opened(
    tmp_path: Path,
) -> None:
    """A database made before issue 20 (schema 3: no ``seen_ms``/``archived_ms``) keeps its
    rows, gains the two columns (unset: unseen, unarchived) and the unseen index."""
    path = tmp_path / "old.db"
    store = await open_store(f"sqlite:///{path}")
    await store.upsert_many([rec("n1")])
    await store.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP INDEX notifications_user_unseen")
        conn.execute("ALTER TABLE notifications DROP COLUMN seen_ms")
        conn.execute("ALTER TABLE notifications DROP COLUMN archived_ms")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    store = await open_store(f"sqlite:///{path}")
    try:
        assert await store.counts("t1", "u1") == InboxCounts(1, 1)
        assert await store.mark("t1", "u1", ["n1"], Mark.ARCHIVED, datetime.now(UTC)) == ["n1"]
        assert await store.counts("t1", "u1") == InboxCounts(0, 0)
    finally:
        await store.close()
