"""The persister as a real process against the real Redis and a real SQLite file: stream →
store, acks only after the store confirmed, expiry, claims, dead letters, outages, SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from common.buffer.formats import encode_entry
from common.buffer.stream import dead_stream, group_name
from common.millis import to_ms, truncate
from common.models import EventType, Notification, Priority
from common.naming import Names
from common.records import Status, StoredNotification
from common.store import MAX_PAGE
from common.store.sqlite import SqliteStore
from tests.support.metrics import metric
from tests.support.processes import ROOT, Service
from tests.support.proxy import TcpProxy
from tests.support.replies import entries, stream_fields, text
from tests.support.timing import eventually, scaled

pytestmark = pytest.mark.integration

_ids = itertools.count(1)


def note(user: str = "bob", *, tenant: str = "default", expires_in: float = 3600,
         created: datetime | None = None) -> Notification:
    created = created or datetime.now(UTC)
    n = next(_ids)
    return Notification(
        id=f"n-{n:05d}", tenantId=tenant, userId=user, type=EventType.FOLLOW,
        actorId="alice", eventId=f"ev-{n}", message="alice started following you",
        priority=Priority.PROMOTIONAL, createdAt=created,
        expiresAt=created + timedelta(seconds=expires_in),
    )


async def publish(redis: Redis, names: Names, n: Notification, status: Status,
                  at: datetime | None = None) -> str:
    """XADD an entry as the gateway (acked) or a sweeper (expired) does."""
    at_ms = to_ms(at or datetime.now(UTC))
    return text(await redis.xadd(names.keys.persist_stream,
                                 stream_fields(encode_entry(n.model_dump_json(), status, at_ms))))


async def buffer(redis: Redis, names: Names, n: Notification, *, in_hash: bool = True) -> None:
    """Write a pending notification the way common/buffer/inbox.py does (index entry first)."""
    t, u = n.tenantId, n.userId
    await redis.zadd(names.keys.expiry_index, {f"{t}|{u}|{n.id}": to_ms(n.expiresAt)})
    if in_hash:
        await redis.hset(names.keys.pending_hash(t, u), n.id, n.model_dump_json())
        await redis.zadd(names.keys.pending_index(t, u), {n.id: to_ms(n.createdAt)})


async def pending(redis: Redis, names: Names) -> int:
    summary = await redis.xpending(names.keys.persist_stream, group_name(names.keys))
    return int(summary["pending"])


async def unacked(redis: Redis, names: Names) -> int:
    """Entries the group has not acked: delivered but pending, or not delivered yet."""
    (info,) = await redis.xinfo_groups(names.keys.persist_stream)
    return int(info["pending"]) + int(info["lag"])


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[Path, SqliteStore]]:
    """The SQLite file the persister writes, and a store on it for the test to read."""
    path = tmp_path / "h.db"
    store = await SqliteStore.open(str(path))
    yield path, store
    await store.close()


async def stored(store: SqliteStore, user: str = "bob", tenant: str = "default"
                 ) -> dict[str, StoredNotification]:
    items, _ = await store.history(tenant, user, MAX_PAGE)
    return {r.notification.id: r for r in items}


@pytest.fixture
def persister(
    redis: Redis, services: Callable[..., Service], db: tuple[Path, SqliteStore]
) -> Callable[..., Service]:
    """``persister(**env)``: a persister on the test's SQLite file, fast timers for tests.
    (``redis`` comes first so its key cleanup runs after the process has stopped.)"""

    def make(**env: str) -> Service:
        settings = {"STORE_URL": f"sqlite:///{db[0]}", "BLOCK_MS": "200",
                    "SWEEP_INTERVAL_SECONDS": "0.2", "RETRY_MAX_SECONDS": "0.5", **env}
        return services("persister", **settings)

    return make


async def test_entries_end_in_the_store_acked_and_sigterm_exits_0(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    service = await persister().start()
    acked = [note(f"user{i % 3}") for i in range(30)]
    expired = [note(f"user{i % 3}") for i in range(10)]
    for n in acked:
        await publish(redis, names, n, Status.ACKED)
    for n in expired:
        await publish(redis, names, n, Status.EXPIRED)

    async def everything() -> dict[str, StoredNotification]:
        found: dict[str, StoredNotification] = {}
        for user in ("user0", "user1", "user2"):
            found |= await stored(db[1], user)
        return found

    found = await eventually(everything, lambda f: len(f) == 40)
    assert {i for i, r in found.items() if r.status is Status.ACKED} == {n.id for n in acked}
    assert found[acked[0].id].notification == acked[0].model_copy(update={
        "createdAt": truncate(acked[0].createdAt), "expiresAt": truncate(acked[0].expiresAt)})
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await metric(service, "herald_persisted_total", status="acked") == 30
    assert await metric(service, "herald_persisted_total", status="expired") == 10
    assert await service.terminate() == 0


async def test_the_users_of_written_rows_become_known_users_once(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    """Issue 20: a user a notification was made for is one the tenant has (a broadcast
    reaches them); the persister records them, insert-if-absent, per tenant."""
    await db[1].add_known_users("default", ["user1"], datetime(2020, 1, 1, tzinfo=UTC))
    await persister().start()
    for i in range(30):
        await publish(redis, names, note(f"user{i % 3}"), Status.ACKED)
    await publish(redis, names, note("carol", tenant="acme"), Status.EXPIRED)
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    await eventually(lambda: db[1].known_users("default", after=None, limit=10),
                     lambda users: users == ["user0", "user1", "user2"])
    assert await db[1].known_users("acme", after=None, limit=10) == ["carol"]


async def test_a_trickle_of_acks_is_written_in_one_batch_after_the_linger(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    """Entries that arrive one by one within LINGER_MS of the first go to the store together;
    none is acked before the store has them."""
    # The linger scales with the machine (up to LINGER_MS's ceiling): the five must all
    # arrive within it.
    service = await persister(LINGER_MS=str(min(1000, round(scaled(400))))).start()
    trickle = [note() for _ in range(5)]
    for n in trickle:
        await publish(redis, names, n, Status.ACKED)
        await asyncio.sleep(0.03)  # a trickle, one by one: the input, not a wait
    found = await eventually(lambda: stored(db[1]), lambda f: len(f) == 5)
    assert set(found) == {n.id for n in trickle}
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await metric(service, "herald_persist_batch_size_count") == 1
    assert await metric(service, "herald_persisted_total", status="acked") == 5


async def test_duplicates_make_one_row_and_acked_wins(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    first, second = note(), note()
    ack_at = datetime.now(UTC)
    await publish(redis, names, first, Status.ACKED, ack_at)
    await publish(redis, names, first, Status.ACKED, ack_at)
    await publish(redis, names, first, Status.EXPIRED)
    await publish(redis, names, second, Status.EXPIRED)
    service = await persister().start()
    await eventually(lambda: stored(db[1]), lambda f: len(f) == 2)
    await publish(redis, names, second, Status.ACKED)  # a later batch: the ACK still wins
    await publish(redis, names, second, Status.EXPIRED)
    # Every entry read, written and acked (the last EXPIRED too: it is after the ACK in the
    # stream), so a late one that wrongly won would show now.
    await eventually(lambda: unacked(redis, names), lambda n: n == 0)
    found = await stored(db[1])
    assert len(found) == 2
    assert found[first.id].status is Status.ACKED
    assert found[first.id].statusAt == truncate(ack_at)
    assert found[second.id].status is Status.ACKED
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await service.terminate() == 0


async def test_an_unacked_notification_past_its_ttl_ends_expired_and_leaves_the_buffer(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    due = note(created=past, expires_in=60)
    acked_already = note(created=past, expires_in=60)  # its index entry outlived it
    later = note(expires_in=3600)
    for n in (due, later):
        await buffer(redis, names, n)
    await buffer(redis, names, acked_already, in_hash=False)

    service = await persister().start()
    found = await eventually(lambda: stored(db[1]), lambda f: due.id in f)
    assert found[due.id].status is Status.EXPIRED
    assert found[due.id].statusAt == truncate(due.expiresAt)
    assert acked_already.id not in found
    assert later.id not in found

    pending_hash = names.keys.pending_hash("default", "bob")
    assert await redis.hkeys(pending_hash) == [later.id]
    assert await redis.zrange(names.keys.pending_index("default", "bob"), 0, -1) == [later.id]
    await eventually(lambda: redis.zrange(names.keys.expiry_index, 0, -1),
                     lambda m: m == [f"default|bob|{later.id}"])
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await metric(service, "herald_expired_total") == 1
    assert await service.terminate() == 0


async def test_entries_of_a_dead_persister_are_claimed(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    group = group_name(names.keys)
    await redis.xgroup_create(names.keys.persist_stream, group, id="0", mkstream=True)
    notes = [note() for _ in range(5)]
    for n in notes:
        await publish(redis, names, n, Status.ACKED)
    taken = await redis.xreadgroup(group, "dead-host-1", {names.keys.persist_stream: ">"}, count=10)
    assert isinstance(taken, list)  # RESP2: [[stream, entries]]
    assert len(taken[0][1]) == 5  # delivered to a consumer that will never ack them

    service = await persister(CLAIM_IDLE_SECONDS="1").start()
    found = await eventually(lambda: stored(db[1]), lambda f: len(f) == 5, timeout=15)
    assert set(found) == {n.id for n in notes}
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await metric(service, "herald_persist_claimed_total") == 5
    assert await service.terminate() == 0


async def test_malformed_entries_are_dead_lettered_and_never_block(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    first, good = note(), note()
    body = orjson.loads(good.model_dump_json())
    bad: list[dict[str, Any]] = [
        {"n": "not json", "s": "acked", "t": "1"},
        {"s": "acked", "t": "1"},
        {"n": good.model_dump_json(), "s": "pending", "t": "1"},
        {"n": good.model_dump_json(), "s": "lost", "t": "1"},
        {"n": good.model_dump_json(), "s": "acked", "t": "yesterday"},
        {"n": good.model_dump_json(), "s": "acked", "t": "99999999999999999999"},
        {"n": good.model_dump_json(), "s": "acked", "t": "-99999999999999999999999"},
        {"n": b"\xff\xfe not utf-8", "s": "acked", "t": "1"},
        {"n": orjson.dumps({**body, "userId": "bob smith"}), "s": "acked", "t": "1"},
        {"n": orjson.dumps({k: v for k, v in body.items() if k != "createdAt"}),
         "s": "expired", "t": "1"},
        {"n": orjson.dumps([body]), "s": "acked", "t": "1"},
    ]
    await publish(redis, names, first, Status.ACKED)  # the same batch: written all the same
    bad_ids = [text(await redis.xadd(names.keys.persist_stream, stream_fields(fields)))
               for fields in bad]
    await publish(redis, names, good, Status.ACKED)

    service = await persister().start()
    found = await eventually(lambda: stored(db[1]), lambda f: good.id in f)
    assert set(found) == {first.id, good.id}
    await eventually(lambda: pending(redis, names), lambda p: p == 0)

    async def dead_entries() -> list[tuple[str, dict[str, str]]]:
        return entries(await redis.xrange(dead_stream(names.keys)))

    dead = await eventually(dead_entries,
                            lambda d: len(d) == len(bad))
    assert [fields["source"] for _, fields in dead] == bad_ids
    assert all(fields["error"] for _, fields in dead)
    assert orjson.loads(dead[0][1]["fields"]) == bad[0]
    assert await metric(service, "herald_persist_dead_lettered_total") == len(bad)
    assert bad_ids[0] in service.logs()
    assert await service.terminate() == 0


async def test_the_stream_is_trimmed_once_everything_is_acked(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    for _ in range(20):
        await publish(redis, names, note(), Status.ACKED)
    service = await persister(TRIM_INTERVAL_SECONDS="0.3").start()
    await eventually(lambda: stored(db[1]), lambda f: len(f) == 20)
    await eventually(lambda: redis.xlen(names.keys.persist_stream), lambda n: n <= 1)
    assert await pending(redis, names) == 0
    assert await service.terminate() == 0


async def test_two_persisters_at_once_store_everything_once(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    first = await persister(BATCH_SIZE="16").start()
    second = await persister(BATCH_SIZE="16").start()
    past = datetime.now(UTC) - timedelta(minutes=5)
    expiring = [note(created=past, expires_in=1) for _ in range(40)]
    for n in expiring:
        await buffer(redis, names, n)
    acked = [note() for _ in range(300)]
    for n in acked:
        await publish(redis, names, n, Status.ACKED)
        if n is acked[150]:
            for e in expiring[:10]:  # some acked while the sweep may be running: ack wins
                await publish(redis, names, e, Status.ACKED)

    found = await eventually(lambda: stored(db[1]), lambda f: len(f) == 340, timeout=30)
    statuses = {i: r.status for i, r in found.items()}
    assert all(statuses[e.id] is Status.ACKED for e in expiring[:10])
    assert all(statuses[e.id] is Status.EXPIRED for e in expiring[10:])
    assert await redis.hlen(names.keys.pending_hash("default", "bob")) == 0
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await first.terminate() == 0
    assert await second.terminate() == 0


async def test_pipelined_batches_reach_the_store_in_stream_order(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    """Batches of 2: one is written while the next is read. Acked still beats expired in
    either order, and of two acks of one notification the later one is what stays."""
    notes = [note() for _ in range(12)]
    base = datetime.now(UTC) - timedelta(minutes=1)
    for n in notes:
        await publish(redis, names, n, Status.EXPIRED, base)
        await publish(redis, names, n, Status.ACKED, base + timedelta(seconds=1))
        await publish(redis, names, n, Status.EXPIRED, base + timedelta(seconds=2))
        await publish(redis, names, n, Status.ACKED, base + timedelta(seconds=3))
    service = await persister(BATCH_SIZE="2").start()
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    await eventually(lambda: unacked(redis, names), lambda u: u == 0)
    found = await stored(db[1])
    assert set(found) == {n.id for n in notes}
    assert {r.status for r in found.values()} == {Status.ACKED}
    assert {r.statusAt for r in found.values()} == {truncate(base + timedelta(seconds=3))}
    assert await metric(service, "herald_persisted_total", status="acked") == 24
    assert await metric(service, "herald_persisted_total", status="expired") == 24
    assert await service.terminate() == 0


@pytest.mark.faults
@pytest.mark.parametrize("batch_size", ["100", "2"], ids=["one-batch", "pipelined-batches"])
async def test_while_the_store_fails_nothing_is_acked_then_it_catches_up(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore], batch_size: str,
) -> None:
    """With small batches one is being written (and retried) while the next is already read
    and decoded: neither is acked before its own write."""
    path, store = db
    service = await persister(STORE_URL=f"sqlite:///{path}?busy_timeout_ms=100",
                              RETRY_MAX_SECONDS="0.2", BATCH_SIZE=batch_size).start()
    lock = sqlite3.connect(path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        notes = [note() for _ in range(5)]
        for n in notes:
            await publish(redis, names, n, Status.ACKED)
        await eventually(lambda: metric(service, "herald_persist_retries_total",
                                        operation="store"), lambda r: r >= 3)
        assert await stored(store) == {}
        assert await unacked(redis, names) == 5  # written nowhere, so acked never
        async with httpx.AsyncClient() as client:
            assert (await client.get(service.url + "/readyz")).status_code == 200
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    found = await eventually(lambda: stored(store), lambda f: len(f) == 5)
    assert set(found) == {n.id for n in notes}
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await service.terminate() == 0


@pytest.mark.faults
async def test_sigterm_while_the_store_fails_hands_the_batch_back(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    path, store = db
    url = f"sqlite:///{path}?busy_timeout_ms=100"
    first = await persister(STORE_URL=url, RETRY_MAX_SECONDS="0.2").start()
    lock = sqlite3.connect(path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        notes = [note() for _ in range(3)]
        async with redis.pipeline(transaction=True) as multi:  # one batch: all or nothing
            for n in notes:
                multi.xadd(names.keys.persist_stream, stream_fields(encode_entry(
                    n.model_dump_json(), Status.ACKED, 1)))
            await multi.execute()
        await eventually(lambda: pending(redis, names), lambda p: p == 3)
        await eventually(lambda: metric(first, "herald_persist_retries_total",
                                        operation="store"), lambda r: r >= 1)
        assert await first.terminate() == 0
        assert await pending(redis, names) == 3  # handed back unacked, not dropped
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    second = await persister(STORE_URL=url, CLAIM_IDLE_SECONDS="1").start()
    await eventually(lambda: stored(store), lambda f: len(f) == 3, timeout=15)
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await second.terminate() == 0


@pytest.mark.faults
async def test_a_store_unreachable_at_start_leaves_it_unready_until_it_appears(
    redis: Redis, names: Names, services: Callable[..., Service], tmp_path: Path,
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the database directory should be")
    path = blocker / "h.db"
    service = services("persister", STORE_URL=f"sqlite:///{path}", BLOCK_MS="200",
                       RETRY_MAX_SECONDS="0.3")
    await service.start(ready=False)
    n = note()
    await publish(redis, names, n, Status.ACKED)
    async with httpx.AsyncClient() as client:
        ready = await client.get(service.url + "/readyz")
    assert ready.status_code == 503
    assert "store not open" in ready.text
    # Two more failed opens since the entry was written: it has kept trying, and read nothing.
    tries = await metric(service, "herald_persist_retries_total", operation="open_store")
    await eventually(lambda: metric(service, "herald_persist_retries_total",
                                    operation="open_store"), lambda n: n >= tries + 2)
    assert await redis.xlen(names.keys.persist_stream) == 1

    blocker.unlink()
    await service.wait_up()
    store = await SqliteStore.open(str(path))
    try:
        found = await eventually(lambda: stored(store), lambda f: n.id in f)
        assert found[n.id].status is Status.ACKED
    finally:
        await store.close()
    await eventually(lambda: pending(redis, names), lambda p: p == 0)
    assert await service.terminate() == 0


@pytest.mark.faults
async def test_a_redis_outage_is_ridden_out(
    redis: Redis, names: Names, persister: Callable[..., Service],
    db: tuple[Path, SqliteStore],
) -> None:
    proxy = await TcpProxy("127.0.0.1", 6379).start()
    try:
        service = await persister(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0").start()
        await proxy.cut()
        notes = [note() for _ in range(5)]
        for n in notes:
            await publish(redis, names, n, Status.ACKED)
        await buffer(redis, names, due := note(created=datetime.now(UTC) - timedelta(hours=1),
                                               expires_in=1))
        await eventually(lambda: metric(service, "herald_persist_retries_total",
                                        operation="read"), lambda r: r >= 1)
        async with httpx.AsyncClient() as client:
            assert (await client.get(service.url + "/readyz")).status_code == 503
        await proxy.restore()
        found = await eventually(lambda: stored(db[1]), lambda f: len(f) == 6, timeout=20)
        assert found[due.id].status is Status.EXPIRED
        await eventually(lambda: pending(redis, names), lambda p: p == 0)
        assert await service.terminate() == 0
    finally:
        await proxy.close()


@pytest.mark.parametrize(("name", "value"), [("BATCH_SIZE", "0"), ("STORE_URL", "redis://x"),
                                             ("CLAIM_IDLE_SECONDS", "never")])
def test_a_bad_setting_stops_the_persister_with_one_line(name: str, value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "persister"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/bin:/bin", name: value})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert name in done.stderr
