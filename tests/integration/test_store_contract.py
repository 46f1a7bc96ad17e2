"""The store contract, one body for every backend (``store`` is parametrised in conftest:
``sqlite``, and ``mongodb-real`` or ``mongodb-fake``)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from common.catalog import DEFAULT_LOCALE, TemplateDef, TypeDef
from common.millis import to_ms, truncate
from common.models import EventType, Notification, Priority
from common.preferences import QuietHours, UserSettings
from common.records import InboxCounts, Mark, Status, StoredNotification
from common.rows import make_row, row_of
from common.store import MAX_PAGE, InvalidCursor, Store
from common.store.base import (
    MAX_EXPORT,
    MAX_MEMBER_IDS,
    MAX_MEMBER_PAGE,
    MAX_SETTINGS_USERS,
)
from common.store.cursor import encode_cursor
from tests.support.reference import merge, normalize

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)
_ids = itertools.count(1)


def note(
    nid: str | None = None,
    *,
    user: str = "u1",
    tenant: str = "t1",
    created: datetime = BASE,
    message: str = "alice liked your post",
) -> Notification:
    return Notification(
        id=nid or f"n-{next(_ids):04d}", tenantId=tenant, userId=user, type=EventType.LIKE,
        actorId="alice", eventId=f"ev-{next(_ids)}", postId="p1", message=message,
        priority=Priority.PROMOTIONAL, createdAt=created,
        expiresAt=created + timedelta(days=1),
    )


def rec(
    n: Notification,
    status: Status = Status.ACKED,
    at: datetime = BASE + timedelta(seconds=30, microseconds=555),
    read: datetime | None = None,
) -> StoredNotification:
    return StoredNotification(notification=n, status=status, statusAt=at, readAt=read)


async def everything(store: Store, user: str = "u1", tenant: str = "t1"
                     ) -> list[StoredNotification]:
    items, _ = await store.history(tenant, user, MAX_PAGE)
    return items


async def test_upsert_is_idempotent_on_the_id(store: Store) -> None:
    record = rec(note())
    await store.upsert_many([record])
    await store.upsert_many([record, record])
    await store.upsert_many([record])
    await store.upsert_many([])
    assert await everything(store) == [normalize(record)]
    assert await store.get("t1", "u1", record.notification.id) == normalize(record)


@pytest.mark.parametrize("order", ["acked-then-expired", "expired-then-acked",
                                   "one-batch-acked-first", "one-batch-expired-first"])
async def test_acked_beats_expired_in_either_order(store: Store, order: str) -> None:
    n = note()
    acked = rec(n, Status.ACKED, at=BASE + timedelta(seconds=5))
    expired = rec(n, Status.EXPIRED, at=BASE + timedelta(days=1))
    match order:
        case "acked-then-expired":
            await store.upsert_many([acked])
            await store.upsert_many([expired])
        case "expired-then-acked":
            await store.upsert_many([expired])
            assert (await store.get("t1", "u1", n.id)) == normalize(expired)
            await store.upsert_many([acked])
        case "one-batch-acked-first":
            await store.upsert_many([acked, expired])
        case "one-batch-expired-first":
            await store.upsert_many([expired, acked])
    assert await everything(store) == [normalize(acked)]


@pytest.mark.parametrize("before", ["new", "acked", "expired-and-read"])
@pytest.mark.parametrize("read_by", [None, 1])
@pytest.mark.parametrize("statuses", list(itertools.product([Status.ACKED, Status.EXPIRED],
                                                            repeat=3)))
async def test_one_batch_with_an_id_several_times_is_as_if_written_one_by_one(
    store: Store, statuses: tuple[Status, ...], read_by: int | None, before: str,
) -> None:
    """The persister's path (rows, one call): the SQL / update-pipeline rule within a batch
    gives what ``StoredNotification.merge`` one by one gives, a ``readAt`` with any status (a
    mark-read of a stored notification comes with the status the producer read)."""
    n = note()
    expected: StoredNotification | None = None
    if before != "new":
        expected = rec(n, Status.ACKED if before == "acked" else Status.EXPIRED,
                       at=BASE - timedelta(hours=1))
        await store.upsert_rows([row_of(expected)])
        if before == "expired-and-read":
            assert await store.mark_read("t1", "u1", n.id, BASE - timedelta(minutes=30))
            read_at = BASE - timedelta(minutes=30)  # read implies seen
            expected = expected.model_copy(update={"readAt": read_at, "seenAt": read_at})
    batch = [rec(n, status, at=BASE + timedelta(seconds=i, microseconds=999),
                 read=BASE + timedelta(minutes=i)
                 if i == read_by else None)
             for i, status in enumerate(statuses)]
    for record in batch:
        expected = record if expected is None else merge(expected, record)
    await store.upsert_rows([row_of(r) for r in batch])
    assert expected is not None
    assert await everything(store) == [normalize(expected)]


async def test_a_large_batch_with_repeats_and_awkward_text_in_one_call(store: Store) -> None:
    awkward = 'quote " backslash \\ nul \x00 tab \t é 😀 </script> $set'
    notes = [note(message=f"{i} {awkward}", created=BASE + timedelta(milliseconds=i))
             for i in range(MAX_PAGE)]
    repeated = notes[::3]
    rows = [row_of(rec(n, Status.EXPIRED)) for n in repeated]
    rows += [row_of(rec(n)) for n in notes]
    rows += [row_of(rec(n, Status.EXPIRED, at=BASE + timedelta(days=1))) for n in repeated]
    await store.upsert_rows(rows)
    stored = await everything(store)
    assert len(stored) == len(notes)
    assert {s.status for s in stored} == {Status.ACKED}
    assert {s.notification.message for s in stored} == {n.message for n in notes}
    assert stored[-1] == normalize(rec(notes[0]))


async def test_concurrent_upserts_of_the_same_ids_end_acked(store: Store) -> None:
    notes = [note() for _ in range(20)]
    batches = [[rec(n, status) for n in notes] for status in (Status.EXPIRED, Status.ACKED)] * 5
    await asyncio.gather(*(store.upsert_many(batch) for batch in batches))
    stored = await everything(store)
    assert len(stored) == len(notes)
    assert {s.status for s in stored} == {Status.ACKED}


async def test_read_at_is_kept_by_later_upserts(store: Store) -> None:
    n = note()
    await store.upsert_many([rec(n, Status.EXPIRED)])
    read_at = BASE + timedelta(hours=1, microseconds=999)
    assert await store.mark_read("t1", "u1", n.id, read_at)
    await store.upsert_many([rec(n, Status.ACKED)])
    await store.upsert_many([rec(n, Status.EXPIRED)])
    later = BASE + timedelta(hours=2)
    await store.upsert_many([rec(n, Status.ACKED, read=later)])
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert (got.status, got.readAt) == (Status.ACKED, truncate(read_at))
    assert await store.unread_count("t1", "u1") == 0


async def test_a_read_at_given_with_a_record_is_stored(store: Store) -> None:
    n = note()
    await store.upsert_many([rec(n, read=BASE + timedelta(minutes=1))])
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert got.readAt == truncate(BASE + timedelta(minutes=1))


async def test_history_is_newest_first_and_pages_with_a_cursor(store: Store) -> None:
    notes = [note(created=BASE + timedelta(seconds=i)) for i in range(9)]
    # Two more in the same millisecond as notes[4] (microseconds differ, and the store keeps
    # milliseconds): the id breaks the tie, descending.
    same_ms = BASE + timedelta(seconds=4, microseconds=300)
    notes += [note("n-tie-a", created=same_ms), note("n-tie-z", created=same_ms)]
    await store.upsert_many([rec(n) for n in reversed(notes)])
    expected = sorted(notes, key=lambda n: (to_ms(n.createdAt), n.id), reverse=True)

    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.history("t1", "u1", 4, cursor)
        pages.append([r.notification.id for r in page])
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert [len(p) for p in pages] == [4, 4, 3]
    assert [i for p in pages for i in p] == [n.id for n in expected]

    whole, after_last = await store.history("t1", "u1", len(notes))
    assert after_last is None
    assert len(whole) == len(notes)


async def test_each_user_sees_only_their_own(store: Store) -> None:
    mine = note(user="u1", tenant="t1")
    neighbour = note(user="u2", tenant="t1")
    other_tenant = note(user="u1", tenant="t2")
    await store.upsert_many([rec(mine), rec(neighbour), rec(other_tenant)])

    for tenant, user, own in (("t1", "u1", mine), ("t1", "u2", neighbour),
                              ("t2", "u1", other_tenant)):
        assert [r.notification.id for r in await everything(store, user, tenant)] == [own.id]
        assert await store.unread_count(tenant, user) == 1
    assert await store.get("t1", "u2", mine.id) is None
    assert await store.get("t2", "u1", mine.id) is None
    assert await everything(store, "u3", "t1") == []


async def test_unread_count_and_mark_read(store: Store) -> None:
    notes = [note() for _ in range(3)]
    await store.upsert_many([rec(n) for n in notes])
    assert await store.unread_count("t1", "u1") == 3
    first = BASE + timedelta(hours=1)
    assert await store.mark_read("t1", "u1", notes[0].id, first) is True
    assert await store.mark_read("t1", "u1", notes[0].id, first + timedelta(hours=1)) is True
    assert await store.unread_count("t1", "u1") == 2
    got = await store.get("t1", "u1", notes[0].id)
    assert got is not None
    assert got.readAt == truncate(first)
    assert await store.mark_read("t1", "u1", "no-such-id", first) is False


async def test_mark_all_read_marks_only_the_unread_of_that_user(store: Store) -> None:
    mine = [note() for _ in range(3)]
    theirs, other_tenant = note(user="u2"), note(tenant="t2")
    await store.upsert_many([rec(n) for n in (*mine, theirs, other_tenant)])
    first = BASE + timedelta(hours=1)
    assert await store.mark_read("t1", "u1", mine[0].id, first) is True
    later = BASE + timedelta(hours=2)
    assert await store.mark_all_read("t1", "u1", later) == 2
    assert await store.unread_count("t1", "u1") == 0
    kept = await store.get("t1", "u1", mine[0].id)
    assert kept is not None
    assert kept.readAt == truncate(first)
    marked = await store.get("t1", "u1", mine[1].id)
    assert marked is not None
    assert marked.readAt == truncate(later)
    assert await store.mark_all_read("t1", "u1", later) == 0
    assert await store.unread_count("t1", "u2") == 1
    assert await store.unread_count("t2", "u1") == 1


async def test_mark_read_of_another_users_notification_is_refused(store: Store) -> None:
    theirs = note(user="u2")
    await store.upsert_many([rec(theirs)])
    before = await store.get("t1", "u2", theirs.id)
    at = BASE + timedelta(hours=1)
    assert await store.mark_read("t1", "u1", theirs.id, at) is False
    assert await store.mark_read("t9", "u2", theirs.id, at) is False
    assert await store.get("t1", "u2", theirs.id) == before
    assert await store.unread_count("t1", "u2") == 1


async def test_an_id_stored_for_another_user_is_never_moved(store: Store) -> None:
    original = note("n-shared", user="u1")
    await store.upsert_many([rec(original, Status.EXPIRED)])
    forged = original.model_copy(update={"userId": "u2", "message": "forged"})
    await store.upsert_many([rec(forged, Status.ACKED), rec(note(user="u2"))])
    assert await store.get("t1", "u1", "n-shared") == normalize(rec(original, Status.EXPIRED))
    assert await store.get("t1", "u2", "n-shared") is None
    assert len(await everything(store, "u2")) == 1


async def test_text_that_looks_like_an_operator_stays_text(store: Store) -> None:
    n = note(message="$status {$literal: 1} $$ROOT")
    await store.upsert_many([rec(n, Status.EXPIRED)])
    await store.upsert_many([rec(n, Status.EXPIRED, at=BASE + timedelta(days=2))])
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert got.notification.message == "$status {$literal: 1} $$ROOT"


@pytest.mark.parametrize("cursor", ["", "garbage!", "e30", encode_cursor(1, "") + "x",
                                    "W1siYSJdXQ", "x" * 600])
async def test_a_cursor_not_made_by_history_is_refused(store: Store, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await store.history("t1", "u1", 10, cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE + 1])
async def test_a_limit_out_of_range_is_refused(store: Store, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.history("t1", "u1", limit)


async def test_ping_and_a_missing_notification(store: Store) -> None:
    await store.ping()
    assert await store.get("t1", "u1", "missing") is None
    assert await store.unread_count("t1", "u1") == 0
    assert await store.history("t1", "u1", 10) == ([], None)
    assert store.backend in ("sqlite", "mongodb")


async def test_erase_user_deletes_only_that_user_of_that_tenant(store: Store) -> None:
    mine = [note(user="u1", tenant="t1", created=BASE + timedelta(seconds=i)) for i in range(3)]
    neighbour = note(user="u2", tenant="t1")
    other_tenant = note(user="u1", tenant="t2")
    await store.upsert_many([rec(n) for n in [*mine, neighbour, other_tenant]])
    assert await store.mark_read("t1", "u1", mine[0].id, BASE + timedelta(hours=1))

    assert await store.erase_user("t1", "u1") == 3
    assert await everything(store, "u1", "t1") == []
    assert await store.unread_count("t1", "u1") == 0
    assert await store.get("t1", "u1", mine[0].id) is None
    assert await store.export_user("t1", "u1", 10) == []
    assert [r.notification.id for r in await everything(store, "u2", "t1")] == [neighbour.id]
    assert [r.notification.id for r in await everything(store, "u1", "t2")] == [other_tenant.id]
    assert await store.erase_user("t1", "u1") == 0  # idempotent


async def test_erase_user_until_a_time_keeps_what_came_later(store: Store) -> None:
    early = note(created=BASE + timedelta(seconds=1, microseconds=700))
    same_ms = note(created=BASE + timedelta(seconds=2))
    later = note(created=BASE + timedelta(seconds=2, milliseconds=1))
    await store.upsert_many([rec(early), rec(same_ms), rec(later)])
    until = BASE + timedelta(seconds=2, microseconds=500)  # the same millisecond as same_ms
    assert await store.erase_user("t1", "u1", created_until=until) == 2
    assert [r.notification.id for r in await everything(store)] == [later.id]


async def test_export_user_is_newest_first_with_status_and_read_at(store: Store) -> None:
    notes = [note(created=BASE + timedelta(seconds=i)) for i in range(5)]
    await store.upsert_many([rec(n, Status.EXPIRED if i % 2 else Status.ACKED)
                             for i, n in enumerate(notes)])
    await store.upsert_many([rec(note(user="u2"))])
    assert await store.mark_read("t1", "u1", notes[0].id, BASE + timedelta(hours=1))

    exported = await store.export_user("t1", "u1", 10)
    assert exported == (await store.history("t1", "u1", 10))[0]
    assert [r.notification.id for r in exported] == [n.id for n in reversed(notes)]
    assert exported[-1].readAt == truncate(BASE + timedelta(hours=1))
    assert [r.notification.id for r in await store.export_user("t1", "u1", 2)] == [
        notes[4].id, notes[3].id]
    with pytest.raises(ValueError, match="limit"):
        await store.export_user("t1", "u1", 0)
    with pytest.raises(ValueError, match="limit"):
        await store.export_user("t1", "u1", MAX_EXPORT + 1)


# --- tenancy (common.tenancy) -------------------------------------------------------------

async def test_tenants_are_made_once_listed_and_limited(store: Store) -> None:
    from common.tenancy import Tenant

    acme = Tenant("acme", "Acme", BASE)
    assert await store.create_tenant(acme) is True
    assert await store.create_tenant(Tenant("acme", "Other", BASE)) is False
    await store.create_tenant(Tenant("beta", "Beta", BASE + timedelta(seconds=1), 5.0, 10))
    assert await store.get_tenant("acme") == Tenant("acme", "Acme", truncate(BASE))
    assert [t.id for t in await store.list_tenants()] == ["acme", "beta"]
    assert (await store.get_tenant("beta")) == Tenant(
        "beta", "Beta", truncate(BASE + timedelta(seconds=1)), 5.0, 10)
    assert await store.set_tenant_limits("acme", 100.0, 200) is True
    got = await store.get_tenant("acme")
    assert got is not None
    assert (got.rate_per_second, got.burst) == (100.0, 200)
    assert await store.set_tenant_limits("acme", None, None) is True
    got = await store.get_tenant("acme")
    assert got is not None
    assert (got.rate_per_second, got.burst) == (None, None)
    assert await store.set_tenant_limits("nobody", 1.0, 1) is False
    assert await store.get_tenant("nobody") is None


async def test_keys_are_stored_as_hashes_listed_and_revoked_once(store: Store) -> None:
    from common.tenancy import EVENTS_WRITE, NOTIFICATIONS_READ, matches, new_key

    made = new_key("acme", frozenset({EVENTS_WRITE, NOTIFICATIONS_READ}), BASE, "ci")
    other = new_key("acme", frozenset({EVENTS_WRITE}), BASE + timedelta(seconds=1))
    elsewhere = new_key("beta", frozenset({EVENTS_WRITE}), BASE)
    for key in (made, other, elsewhere):
        assert await store.add_key(key.stored) is True
    assert await store.add_key(made.stored) is False
    stored = await store.get_key(made.stored.key_id)
    assert stored is not None
    assert matches(made.secret, stored)
    assert made.secret not in repr(stored)
    assert stored.scopes == {EVENTS_WRITE, NOTIFICATIONS_READ}
    assert stored.name == "ci"
    assert stored.created_at == truncate(BASE)
    assert stored.revoked_at is None
    listed = await store.list_keys("acme")
    assert [k.key_id for k in listed] == [made.stored.key_id, other.stored.key_id]
    first = await store.revoke_key(made.stored.key_id, BASE + timedelta(minutes=1))
    again = await store.revoke_key(made.stored.key_id, BASE + timedelta(minutes=2))
    assert first is not None
    assert first.revoked_at == truncate(BASE + timedelta(minutes=1))
    assert again == first
    assert await store.revoke_key("000000000000", BASE) is None
    assert await store.get_key("000000000000") is None
    still = await store.get_key(other.stored.key_id)
    assert still is not None
    assert still.active


# --- configuration (issue 19) --------------------------------------------------------------
TASK = TypeDef("task.assigned", "transactional", True, 60, ("data.taskId",), False,
               "breakthrough")


async def test_a_tenant_that_set_nothing_has_an_empty_config(store: Store) -> None:
    config = await store.get_tenant_config("t1")
    assert (config.tenant_id, dict(config.types), dict(config.templates)) == ("t1", {}, {})
    assert config.default_locale == DEFAULT_LOCALE
    assert config.type_of("LIKE") is not None
    assert await store.get_user_settings("t1", ["u1", "u2"]) == {}
    assert await store.get_user_settings("t1", []) == {}


async def test_types_are_put_replaced_and_deleted_per_tenant(store: Store) -> None:
    assert await store.put_type("t1", TASK) is True
    assert await store.put_type("t1", TypeDef("post.created")) is True
    changed = TypeDef("task.assigned", digest_window_seconds=5)
    assert await store.put_type("t1", changed) is False
    like = TypeDef("LIKE", digest_window_seconds=0, builtin=True)
    assert await store.put_type("t1", like) is True
    config = await store.get_tenant_config("t1")
    assert dict(config.types) == {"task.assigned": changed, "post.created":
                                  TypeDef("post.created"), "LIKE": like}
    assert (await store.get_tenant_config("t2")).types == {}
    assert await store.delete_type("t1", "task.assigned") is True
    assert await store.delete_type("t1", "task.assigned") is False
    assert await store.delete_type("t2", "post.created") is False
    assert set((await store.get_tenant_config("t1")).types) == {"post.created", "LIKE"}
    await store.put_type("t1", TASK)
    assert (await store.get_tenant_config("t1")).types["task.assigned"] == TASK


async def test_template_versions_grow_by_one_and_outlive_a_delete(store: Store) -> None:
    at = BASE + timedelta(microseconds=1500)
    first = await store.put_template("t1", "task.assigned", "de", "Aufgabe {{ actorId }}", at)
    assert first == TemplateDef("task.assigned", "de", "Aufgabe {{ actorId }}", 1, truncate(at))
    second = await store.put_template("t1", "task.assigned", "de", "v2", at)
    assert second.version == 2
    other = await store.put_template("t1", "task.assigned", "en", "Task", at)
    assert other.version == 1
    assert (await store.put_template("t2", "task.assigned", "de", "x", at)).version == 1
    config = await store.get_tenant_config("t1")
    assert config.templates == {("task.assigned", "de"): second, ("task.assigned", "en"): other}
    assert config.template_for("task.assigned", "de-AT") == second

    assert await store.delete_template("t1", "task.assigned", "de") is True
    assert await store.delete_template("t1", "task.assigned", "de") is False
    assert await store.delete_template("t1", "nope", "de") is False
    assert set((await store.get_tenant_config("t1")).templates) == {("task.assigned", "en")}
    again = await store.put_template("t1", "task.assigned", "de", "v3", at)
    assert again.version == 3


async def test_concurrent_template_saves_get_distinct_versions(store: Store) -> None:
    saved = await asyncio.gather(*(store.put_template("t1", "x", "en", f"s{i}", BASE)
                                   for i in range(10)))
    assert sorted(t.version for t in saved) == list(range(1, 11))


async def test_the_default_locale_is_set_per_tenant(store: Store) -> None:
    await store.set_default_locale("t1", "de")
    await store.set_default_locale("t1", "fr-CA")
    assert (await store.get_tenant_config("t1")).default_locale == "fr-CA"
    assert (await store.get_tenant_config("t2")).default_locale == DEFAULT_LOCALE


async def test_profile_and_preferences_are_set_apart_and_kept_together(store: Store) -> None:
    at = BASE + timedelta(microseconds=999)
    profile = await store.put_profile("t1", "u1", "de-AT", "Europe/Vienna", at)
    assert profile == UserSettings("de-AT", "Europe/Vienna", {}, None, truncate(at))
    later = at + timedelta(minutes=1)
    quiet = QuietHours.parse("22:00", "07:00")
    prefs = await store.put_preferences("t1", "u1", {"task.assigned": False, "LIKE": True},
                                        quiet, later)
    assert prefs == UserSettings("de-AT", "Europe/Vienna", {"task.assigned": False,
                                                            "LIKE": True}, quiet,
                                 truncate(later))
    cleared = await store.put_profile("t1", "u1", None, None, later)
    assert cleared == UserSettings(None, None, prefs.types, quiet, truncate(later))
    only_prefs = await store.put_preferences("t1", "u2", {}, None, at)
    assert only_prefs == UserSettings(None, None, {}, None, truncate(at))
    await store.put_profile("t2", "u1", "fr", None, at)
    found = await store.get_user_settings("t1", ["u1", "u2", "u3"])
    assert found == {"u1": cleared, "u2": only_prefs}
    assert (await store.get_user_settings("t2", ["u1"]))["u1"].locale == "fr"
    with pytest.raises(ValueError, match="at most"):
        await store.get_user_settings("t1", ["u"] * (MAX_SETTINGS_USERS + 1))


async def test_erase_user_deletes_the_users_settings(store: Store) -> None:
    await store.upsert_many([rec(note())])
    await store.put_profile("t1", "u1", "de", None, BASE)
    await store.put_profile("t1", "u2", "de", None, BASE)
    await store.put_profile("t2", "u1", "de", None, BASE)
    assert await store.erase_user("t1", "u1") == 1
    assert set(await store.get_user_settings("t1", ["u1", "u2"])) == {"u2"}
    assert set(await store.get_user_settings("t2", ["u1"])) == {"u1"}
    # An erasure up to a time keeps settings written after it.
    await store.put_profile("t1", "u2", "fr", None, BASE + timedelta(seconds=5))
    assert await store.erase_user("t1", "u2", created_until=BASE) == 0
    assert set(await store.get_user_settings("t1", ["u2"])) == {"u2"}
    assert await store.erase_user("t1", "u2", created_until=BASE + timedelta(seconds=5)) == 0
    assert await store.get_user_settings("t1", ["u2"]) == {}


# --- digests: a notification updated in place (common/buffer/digest.py) ---------------------
def digest(n: Notification, version: int, count: int, actors: list[str]) -> Notification:
    """``n`` as the digest's ``version``-th body: its message, count and actors."""
    others = count - 1
    return n.model_copy(update={"version": version, "count": count, "actors": actors,
                                "message": f"{actors[0]} and {others} others liked your post"})


async def test_a_higher_version_wins_the_body_whatever_the_status(store: Store) -> None:
    n = note()
    first = rec(n, Status.ACKED)
    await store.upsert_many([first])
    # the update of a digest that was acked already: written as `expired` at its expiresAt
    updated = digest(n, 3, 5, ["erin", "dave", "carol"])
    await store.upsert_many([rec(updated, Status.EXPIRED, at=n.expiresAt)])
    got = await store.get("t1", "u1", n.id)
    assert got == normalize(rec(updated, Status.ACKED, at=first.statusAt))
    assert (got.notification.count, got.notification.actors, got.notification.version) == (
        5, ["erin", "dave", "carol"], 3)


async def test_an_older_version_changes_nothing_in_either_order(store: Store) -> None:
    n = note()
    v2 = rec(digest(n, 2, 2, ["bob", "alice"]), Status.EXPIRED, at=n.expiresAt)
    v1_read = rec(n, Status.ACKED, read=BASE + timedelta(minutes=1))
    await store.upsert_many([v2])
    await store.upsert_many([v1_read])  # the ack (and read) of version 1, stored late
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert got.notification.version == 2
    assert got.status is Status.ACKED  # acked still wins over expired
    assert got.readAt is None, "the read of version 1 does not cover version 2's text"
    assert got == normalize(merge(v2, v1_read))


async def test_an_update_marks_the_notification_unread_again(store: Store) -> None:
    n = note()
    await store.upsert_many([rec(n, Status.ACKED)])
    assert await store.mark_read("t1", "u1", n.id, BASE + timedelta(minutes=2))
    assert await store.unread_count("t1", "u1") == 0
    await store.upsert_many([rec(digest(n, 2, 2, ["carol", "alice"]), Status.EXPIRED,
                                 at=n.expiresAt)])
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert (got.status, got.readAt, got.notification.version) == (Status.ACKED, None, 2)
    # read again, at the same version: kept by later writes of that version
    assert await store.mark_read("t1", "u1", n.id, BASE + timedelta(minutes=3))
    await store.upsert_many([rec(digest(n, 2, 2, ["carol", "alice"]), Status.EXPIRED,
                                 at=n.expiresAt)])
    got = await store.get("t1", "u1", n.id)
    assert got is not None
    assert got.readAt == truncate(BASE + timedelta(minutes=3))


async def test_the_unread_count_counts_a_digest_once(store: Store) -> None:
    n, other = note(), note()
    rows = [row_of(rec(digest(n, v, v, ["a" * v, "alice"][:2]), Status.EXPIRED,
                       at=n.expiresAt)) for v in range(2, 7)]
    await store.upsert_rows([row_of(rec(n, Status.ACKED)), *rows, row_of(rec(other))])
    assert await store.unread_count("t1", "u1") == 2
    items = await everything(store)
    assert len(items) == 2
    assert {i.notification.version for i in items} == {6, 1}


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
async def test_one_batch_of_versions_in_any_order_keeps_the_highest(
    store: Store, order: tuple[int, ...],
) -> None:
    """MongoDB's unordered bulk write and SQLite's row-by-row rule agree with
    :func:`common.rows.merge` applied one by one, whatever order the versions come in."""
    n = note()
    versions = [rec(n, Status.ACKED, read=BASE + timedelta(minutes=1)),
                rec(digest(n, 2, 2, ["b", "alice"]), Status.EXPIRED, at=n.expiresAt),
                rec(digest(n, 3, 3, ["c", "b", "alice"]), Status.EXPIRED, at=n.expiresAt),
                rec(digest(n, 3, 3, ["c", "b", "alice"]), Status.ACKED,
                    read=BASE + timedelta(minutes=5))]
    batch = [versions[i] for i in order]
    expected = batch[0]
    for record in batch[1:]:
        expected = merge(expected, record)
    await store.upsert_rows([row_of(r) for r in batch])
    assert await everything(store) == [normalize(expected)]
    assert expected.notification.version == 3


# --- topics and known users (issue 20) ----------------------------------------------------
async def test_subscribe_is_insert_if_absent_and_counts_the_new(store: Store) -> None:
    assert await store.subscribe("t1", "followers:alice", ["bob", "carol", "bob"], BASE) == 2
    assert await store.subscribe("t1", "followers:alice", ["carol", "dave"], BASE) == 1
    assert await store.subscribe("t1", "followers:alice", [], BASE) == 0
    assert await store.subscribers("t1", "followers:alice", after=None, limit=10) == [
        "bob", "carol", "dave"]
    # Other topics and tenants are apart.
    await store.subscribe("t1", "followers:zed", ["erin"], BASE)
    await store.subscribe("t2", "followers:alice", ["frank"], BASE)
    assert await store.subscribers("t1", "followers:alice", after=None, limit=10) == [
        "bob", "carol", "dave"]
    assert await store.subscribers("t2", "followers:alice", after=None, limit=10) == ["frank"]
    assert await store.subscribers("t1", "nobody", after=None, limit=10) == []


async def test_unsubscribe_counts_what_went(store: Store) -> None:
    await store.subscribe("t1", "news", ["a", "b", "c"], BASE)
    await store.subscribe("t2", "news", ["a"], BASE)
    assert await store.unsubscribe("t1", "news", ["a", "a", "x"]) == 1
    assert await store.unsubscribe("t1", "news", ["a"]) == 0
    assert await store.unsubscribe("t1", "news", []) == 0
    assert await store.subscribers("t1", "news", after=None, limit=10) == ["b", "c"]
    assert await store.subscribers("t2", "news", after=None, limit=10) == ["a"]


async def test_subscribers_page_by_user_id_in_byte_order(store: Store) -> None:
    users = [f"u{i:04d}" for i in range(250)] + ["A", "Z", "_", "a", "z", "0", "9", "@x", ".", "-"]
    for i in range(0, len(users), 97):
        await store.subscribe("t1", "big", users[i:i + 97], BASE)
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await store.subscribers("t1", "big", after=after, limit=37)
        seen += page
        if len(page) < 37:
            break
        after = page[-1]
    assert seen == sorted(users, key=str.encode)
    assert len(seen) == len(set(seen)) == 260


async def test_made_until_is_the_snapshot_rule(store: Store) -> None:
    started = BASE + timedelta(seconds=10)
    await store.subscribe("t1", "t", ["early", "on-time"], BASE)
    await store.subscribe("t1", "t", ["on-time2"], started + timedelta(microseconds=400))
    await store.subscribe("t1", "t", ["late"], started + timedelta(milliseconds=1))
    await store.subscribe("t1", "t", ["early"], started + timedelta(seconds=5))  # kept time
    assert await store.subscribers("t1", "t", after=None, limit=10, made_until=started) == [
        "early", "on-time", "on-time2"]  # the millisecond of `started` is in
    assert await store.subscribers("t1", "t", after="early", limit=1,
                                   made_until=started) == ["on-time"]
    assert await store.subscribers("t1", "t", after=None, limit=10) == [
        "early", "late", "on-time", "on-time2"]


async def test_topics_of_a_user_by_name(store: Store) -> None:
    for topic in ("z.last", "followers:alice", "A", "team@acme"):
        await store.subscribe("t1", topic, ["bob"], BASE)
    await store.subscribe("t2", "other", ["bob"], BASE)
    await store.subscribe("t1", "carols", ["carol"], BASE)
    assert await store.topics_of("t1", "bob") == ["A", "followers:alice", "team@acme",
                                                  "z.last"]
    assert await store.topics_of("t1", "nobody") == []
    await store.unsubscribe("t1", "A", ["bob"])
    assert await store.topics_of("t1", "bob") == ["followers:alice", "team@acme", "z.last"]


async def test_known_users_are_insert_if_absent_and_paged(store: Store) -> None:
    assert await store.add_known_users("t1", ["c", "a", "b", "a"], BASE) == 3
    assert await store.add_known_users("t1", ["b", "d"], BASE) == 1
    assert await store.add_known_users("t1", [], BASE) == 0
    await store.add_known_users("t2", ["x"], BASE)
    assert await store.known_users("t1", after=None, limit=10) == ["a", "b", "c", "d"]
    assert await store.known_users("t1", after="b", limit=1) == ["c"]
    assert await store.known_users("t1", after="d", limit=10) == []
    assert await store.known_users("t2", after=None, limit=10) == ["x"]


async def test_concurrent_subscribes_of_the_same_users_count_each_once(store: Store) -> None:
    users = [f"u{i}" for i in range(40)]
    made = await asyncio.gather(*(store.subscribe("t1", "race", users, BASE) for _ in range(5)))
    assert sum(made) == 40
    known = await asyncio.gather(*(store.add_known_users("t1", users, BASE) for _ in range(5)))
    assert sum(known) == 40


async def test_member_writes_and_pages_are_bounded(store: Store) -> None:
    with pytest.raises(ValueError, match="at most"):
        await store.subscribe("t1", "t", [f"u{i}" for i in range(MAX_MEMBER_IDS + 1)], BASE)
    with pytest.raises(ValueError, match="at most"):
        await store.unsubscribe("t1", "t", ["u"] * (MAX_MEMBER_IDS + 1))
    with pytest.raises(ValueError, match="at most"):
        await store.add_known_users("t1", ["u"] * (MAX_MEMBER_IDS + 1), BASE)
    for limit in (0, MAX_MEMBER_PAGE + 1):
        with pytest.raises(ValueError, match="limit"):
            await store.subscribers("t1", "t", after=None, limit=limit)
        with pytest.raises(ValueError, match="limit"):
            await store.known_users("t1", after=None, limit=limit)


async def test_erase_user_removes_their_subscriptions_and_known_entry(store: Store) -> None:
    for user in ("bob", "carol"):
        await store.subscribe("t1", "a", [user], BASE)
        await store.subscribe("t1", "b", [user], BASE)
        await store.add_known_users("t1", [user], BASE)
    await store.subscribe("t2", "a", ["bob"], BASE)
    await store.add_known_users("t2", ["bob"], BASE)
    await store.erase_user("t1", "bob")
    assert await store.topics_of("t1", "bob") == []
    assert await store.subscribers("t1", "a", after=None, limit=10) == ["carol"]
    assert await store.known_users("t1", after=None, limit=10) == ["carol"]
    assert await store.topics_of("t2", "bob") == ["a"]
    assert await store.known_users("t2", after=None, limit=10) == ["bob"]
    # Up to a time: what was made after it stays.
    await store.subscribe("t1", "c", ["carol"], BASE + timedelta(seconds=5))
    await store.erase_user("t1", "carol", created_until=BASE)
    assert await store.topics_of("t1", "carol") == ["c"]
    assert await store.known_users("t1", after=None, limit=10) == []


# --- inbox states: seen / read / archived (issue 20, common/records.py) ---------------------
async def states(store: Store, nid: str) -> tuple[datetime | None, ...]:
    got = await store.get("t1", "u1", nid)
    assert got is not None
    return got.seenAt, got.readAt, got.archivedAt


async def test_marks_nest_and_keep_the_first_time(store: Store) -> None:
    a, b, c = note(), note(), note()
    await store.upsert_many([rec(n) for n in (a, b, c)])
    assert await store.counts("t1", "u1") == InboxCounts(3, 3)
    t1, t2, t3 = (BASE + timedelta(minutes=m) for m in (1, 2, 3))
    assert await store.mark("t1", "u1", [a.id], Mark.SEEN, t1) == [a.id]
    assert await states(store, a.id) == (truncate(t1), None, None)
    assert await store.counts("t1", "u1") == InboxCounts(2, 3)
    # read implies seen; the first seenAt stays
    assert sorted(await store.mark("t1", "u1", [a.id, b.id], Mark.READ, t2)) == sorted(
        [a.id, b.id])
    assert await states(store, a.id) == (truncate(t1), truncate(t2), None)
    assert await states(store, b.id) == (truncate(t2), truncate(t2), None)
    assert await store.counts("t1", "u1") == InboxCounts(1, 1)
    # archived implies read and seen; it leaves the default history
    assert await store.mark("t1", "u1", [c.id], Mark.ARCHIVED, t3) == [c.id]
    assert await states(store, c.id) == (truncate(t3),) * 3
    assert await store.counts("t1", "u1") == InboxCounts(0, 0)
    assert [r.notification.id for r in await everything(store)] == [b.id, a.id] or \
        {r.notification.id for r in await everything(store)} == {a.id, b.id}
    archived, _ = await store.history("t1", "u1", MAX_PAGE, archived=True)
    assert [r.notification.id for r in archived] == [c.id]
    # unarchive clears archivedAt only: it stays read
    assert await store.mark("t1", "u1", [c.id], Mark.UNARCHIVED, t3) == [c.id]
    assert await states(store, c.id) == (truncate(t3), truncate(t3), None)
    assert await store.counts("t1", "u1") == InboxCounts(0, 0)
    assert len(await everything(store)) == 3


async def test_mark_answers_only_the_users_own_ids(store: Store) -> None:
    mine, theirs = note(), note(user="u2")
    await store.upsert_many([rec(mine), rec(theirs)])
    at = BASE + timedelta(minutes=1)
    assert await store.mark("t1", "u1", [mine.id, theirs.id, "nope"], Mark.READ, at) == [
        mine.id]
    assert await store.counts("t1", "u2") == InboxCounts(1, 1)
    assert await store.mark("t1", "u1", [], Mark.READ, at) == []


@pytest.mark.parametrize("mark", [Mark.SEEN, Mark.READ, Mark.ARCHIVED])
async def test_mark_all_stops_at_the_high_water_mark(store: Store, mark: Mark) -> None:
    old = [note(created=BASE - timedelta(minutes=i)) for i in range(3)]
    new = note(created=BASE + timedelta(seconds=1))  # arrived after the mark-all began
    theirs = note(user="u2", created=BASE - timedelta(minutes=5))
    await store.upsert_many([rec(n) for n in (*old, new, theirs)])
    at = BASE + timedelta(minutes=10)
    assert await store.mark_all("t1", "u1", mark, at, BASE) == 3
    assert await store.mark_all("t1", "u1", mark, at, BASE) == 0
    got = await states(store, new.id)
    assert got == (None, None, None)
    expected = {Mark.SEEN: InboxCounts(1, 4), Mark.READ: InboxCounts(1, 1),
                Mark.ARCHIVED: InboxCounts(1, 1)}[mark]
    assert await store.counts("t1", "u1") == expected
    assert await store.counts("t1", "u2") == InboxCounts(1, 1)
    if mark is Mark.ARCHIVED:
        assert await store.mark_all("t1", "u1", Mark.UNARCHIVED, at, BASE) == 3
        assert len(await everything(store)) == 4


async def test_marks_are_kept_by_later_upserts_of_the_same_version(store: Store) -> None:
    n = note()
    await store.upsert_many([rec(n)])
    at = BASE + timedelta(minutes=1)
    await store.mark("t1", "u1", [n.id], Mark.ARCHIVED, at)
    await store.upsert_many([rec(n, Status.EXPIRED, at=n.expiresAt)])
    assert await states(store, n.id) == (truncate(at),) * 3


async def test_a_digest_update_brings_it_back_unseen_unread_unarchived(store: Store) -> None:
    """Issue 19's rule grown: the states of an older version do not cover the newer text."""
    n = note()
    await store.upsert_many([rec(n)])
    await store.mark("t1", "u1", [n.id], Mark.ARCHIVED, BASE + timedelta(minutes=1))
    assert await store.counts("t1", "u1") == InboxCounts(0, 0)
    await store.upsert_many([rec(digest(n, 2, 2, ["carol", "alice"]), Status.EXPIRED,
                                 at=n.expiresAt)])
    assert await states(store, n.id) == (None, None, None)
    assert await store.counts("t1", "u1") == InboxCounts(1, 1)
    assert [r.notification.id for r in await everything(store)] == [n.id]


async def test_states_given_with_a_row_are_stored(store: Store) -> None:
    n = note()
    seen, read = BASE + timedelta(minutes=1), BASE + timedelta(minutes=2)
    record = rec(n).model_copy(update={"seenAt": seen, "readAt": read})
    await store.upsert_many([record])
    assert await states(store, n.id) == (truncate(seen), truncate(read), None)


async def test_an_unarchive_is_not_undone_by_the_same_entry_upserted_again(store: Store) -> None:
    """A pending notification marked archived is upserted at once (common/inbox.py) and
    again when the persister reaches its stream entry; an unarchive between the two stays."""
    n = note()
    at = BASE + timedelta(minutes=1)
    archived = make_row(n, Status.ACKED.value, to_ms(at), to_ms(at), to_ms(at), to_ms(at))
    await store.upsert_rows([archived])
    assert (await states(store, n.id))[2] == truncate(at)
    assert await store.mark("t1", "u1", [n.id], Mark.UNARCHIVED, at) == [n.id]
    await store.upsert_rows([archived])  # the persister, later
    assert await states(store, n.id) == (truncate(at), truncate(at), None)
