"""Erasure and export (GDPR) through the real pipeline: producer, consumer, gateway and
persister as processes, the real Redis, RabbitMQ and a SQLite store.

What is checked: an erased user has nothing left in Redis (their keys, the expiry index),
the persist stream or the store, but a tombstone; their neighbour in the tenant and the same
user id in another tenant are untouched; a re-published old event, a redelivered event
accepted before the erasure and an ACK that lands after it bring nothing back; a write the
persister had in flight during the erasure is erased again; the export shows what is held;
bad ids, missing or foreign credentials and an unreachable Redis get 422/401/403/503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from common.buffer.erasure import ErasureIndex, RedisErasure
from common.buffer.formats import encode_entry
from common.buffer.inbox import BufferOutcome, NotificationBuffer, Pending
from common.buffer.stream import PersistStream
from common.millis import to_ms
from common.models import EventType, Notification, Priority, notification_id
from common.naming import Names
from common.records import Status
from common.store.sqlite import SqliteStore
from persister.worker import Worker
from tests.conftest import REDIS_URL
from tests.support.amqp import publish_raw
from tests.support.events import buffered, event_body
from tests.support.keys import headers, make_key
from tests.support.processes import Service, free_port
from tests.support.replies import as_bytes, entries, raw_entries, stream_fields, texts
from tests.support.timing import eventually
from tests.support.ws import Client, token

pytestmark = pytest.mark.integration

API_KEY = "privacy-backend-key-0123456789"
KEY = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class Stack:
    api: httpx.AsyncClient
    gateway: Service


@pytest.fixture
async def stack(services: Callable[..., Service], base_env: dict[str, str]
                ) -> AsyncIterator[Stack]:
    producer = await services("producer", READ_API_KEYS=API_KEY).start()
    await services("consumer").start()
    gateway = await services("ws_gateway").start()
    await services("persister", TRIM_INTERVAL_SECONDS="3600").start()
    WRITERS["t2"] = headers(await make_key(base_env["STORE_URL"], "t2"))
    async with httpx.AsyncClient(base_url=producer.url) as api:
        WRITERS["default"] = producer.headers
        yield Stack(api, gateway)


WRITERS: dict[str, dict[str, str]] = {}
"""The publishing key of each tenant of the running test (set by ``stack``)."""


async def post_event(api: httpx.AsyncClient, event_id: str, target: str, *,
                     tenant: str = "default", post: str = "p1",
                     kind: str = "LIKE", actor: str = "alice") -> str:
    body: dict[str, Any] = {"eventId": event_id, "tenantId": tenant, "type": kind,
                            "actorId": actor, "targetId": target, "postId": post}
    if kind == "COMMENT":
        body["text"] = "nice"
    answer = await api.post("/v1/events", json=body, headers=WRITERS[tenant])
    assert answer.status_code == 202, answer.text
    return notification_id(tenant, event_id, target)


async def user_keys(redis: Redis, names: Names, tenant: str, user: str) -> set[str]:
    tag = names.keys.tag(tenant, user)  # "{shard}:tenant:user": ends a key, or is followed by ":"
    found: set[str] = set()
    for pattern in (f"{names.prefix}:*:{tag}", f"{names.prefix}:*:{tag}:*"):
        found |= {k async for k in redis.scan_iter(match=pattern, count=1000)}
    return found


async def expiry_members(redis: Redis, names: Names, tenant: str, user: str) -> list[str]:
    return [m for m in texts(await redis.zrange(names.keys.expiry_index, 0, -1))
            if m.startswith(f"{tenant}|{user}|")]


async def stream_notes(redis: Redis, names: Names, tenant: str, user: str) -> list[str]:
    """Ids of the stream entries' notifications that belong to the user."""
    found = []
    for _, fields in entries(await redis.xrange(names.keys.persist_stream)):
        note = orjson.loads(fields["n"])
        if (note["tenantId"], note["userId"]) == (tenant, user):
            found.append(note["id"])
    return found


async def history(api: httpx.AsyncClient, user: str, tenant: str = "default"
                  ) -> dict[str, str]:
    answer = await api.get(f"/v1/users/{user}/notifications?limit=100&tenantId={tenant}",
                           headers=KEY)
    assert answer.status_code == 200, answer.text
    return {n["id"]: n["status"] for n in answer.json()["notifications"]}


async def test_erasure_removes_everything_of_one_user_and_nothing_else(
    stack: Stack, redis: Redis, names: Names, channel: AbstractChannel,
) -> None:
    api = stack.api
    bob = [await post_event(api, f"e{i}", "bob", post=f"p{i}") for i in range(1, 4)]
    bob.append(await post_event(api, "e4", "bob", kind="COMMENT"))
    carol = await post_event(api, "e5", "carol")
    await post_event(api, "e-by-bob", "dave", actor="bob")  # bob's own rate-limit window
    bob_t2 = await post_event(api, "e6", "bob", tenant="t2")
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: len(f) == 4)
    await eventually(lambda: buffered(redis, names, "carol"), lambda f: len(f) == 1)
    await eventually(lambda: buffered(redis, names, "bob", "t2"), lambda f: len(f) == 1)
    await eventually(lambda: buffered(redis, names, "dave"), lambda f: len(f) == 1)
    assert await redis.exists(names.keys.rate_limit_key("default", "bob"))

    # Two of bob's are acked over the WebSocket: stream entries, then stored rows.
    client, ok = await Client.authed(stack.gateway.url, "bob")
    assert ok["pending"] == 4
    await client.notifications(4)
    assert (await client.ack(bob[0], bob[1]))["notificationIds"] == [bob[0], bob[1]]
    await client.close()
    await eventually(lambda: history(api, "bob"),
                     lambda h: sorted(h.values()) == ["acked", "acked", "pending", "pending"])
    assert sorted(await stream_notes(redis, names, "default", "bob")) == sorted(bob[:2])
    # a mark of a stored one: its inbox seq (common/inbox.py) is a key of bob's too
    marked = await api.post("/v1/users/bob/notifications/marks", headers=KEY,
                            json={"mark": "seen", "notificationIds": [bob[0]]})
    assert marked.status_code == 200, marked.text
    assert marked.json()["marked"] == [bob[0]]
    assert await redis.get(names.keys.inbox_seq("default", "bob")) == "1"

    exported = await api.get("/v1/users/bob/export", headers=KEY)
    assert exported.status_code == 200
    body = exported.json()
    assert (body["userId"], body["tenantId"], body["truncated"]) == ("bob", "default", False)
    assert sorted(n["id"] for n in body["pending"]) == sorted(bob[2:])
    assert {n["status"] for n in body["pending"]} == {"pending"}
    assert sorted(n["id"] for n in body["stored"]) == sorted(bob[:2])
    assert {n["status"] for n in body["stored"]} == {"acked"}
    assert all(n["message"] for n in body["pending"] + body["stored"])

    answer = await api.delete("/v1/users/bob", headers=KEY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"userId": "bob", "tenantId": "default",
                             "erased": {"pending": 2, "stream": 2, "stored": 2}}

    # Nothing of bob@default is left but the tombstone.
    assert await user_keys(redis, names, "default", "bob") == {
        names.keys.erased_marker("default", "bob")}
    assert await expiry_members(redis, names, "default", "bob") == []
    assert await stream_notes(redis, names, "default", "bob") == []
    assert await history(api, "bob") == {}
    after = (await api.get("/v1/users/bob/export", headers=KEY)).json()
    assert (after["pending"], after["stored"]) == ([], [])
    tombstone = await redis.hgetall(names.keys.erased_marker("default", "bob"))
    assert set(bob) <= set(tombstone)
    assert int(tombstone["at"]) > 0
    assert 0 < await redis.pttl(names.keys.erased_marker("default", "bob")) <= 30 * 86400 * 1000

    # Carol (same tenant) and bob of t2 are untouched.
    assert list(await buffered(redis, names, "carol")) == [carol]
    assert list(await buffered(redis, names, "bob", "t2")) == [bob_t2]
    assert await history(api, "carol") == {carol: "pending"}
    assert await history(api, "bob", "t2") == {bob_t2: "pending"}
    assert await expiry_members(redis, names, "t2", "bob") != []
    assert names.keys.seen_key("default", "carol", carol) in await user_keys(
        redis, names, "default", "carol")

    # Replays do not bring anything back: the same eventId re-published, and an event
    # accepted before the erasure (as a redelivery from RabbitMQ would carry it). A new
    # event, published last, is made: once it is there, the replays were handled.
    await post_event(api, "e1", "bob", post="p1")
    before = datetime.now(UTC) - timedelta(seconds=30)
    await publish_raw(channel, names, event_body("e-old", recipients=["bob"], postId="p9",
                                                 acceptedAt=before, occurredAt=before))
    fresh = await post_event(api, "e-new", "bob", post="p8")
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: fresh in f)
    assert list(await buffered(redis, names, "bob")) == [fresh]
    await eventually(lambda: expiry_members(redis, names, "default", "bob"),
                     lambda members: members == [f"default|bob|{fresh}"])

    # An ACK that lands after the erasure (it read the notification before): the persister
    # stores nothing of it and deletes its entry. Carol's entry after it marks the batch.
    late = Notification.model_validate({**body["pending"][0]})
    late_id = await redis.xadd(names.keys.persist_stream, stream_fields(encode_entry(
        late.model_dump_json(), Status.ACKED, to_ms(datetime.now(UTC)))))
    carol_note = (await buffered(redis, names, "carol"))[carol]
    await redis.xadd(names.keys.persist_stream, stream_fields(encode_entry(
        orjson.dumps(carol_note), Status.ACKED, to_ms(datetime.now(UTC)))))
    await eventually(lambda: history(api, "carol"), lambda h: h == {carol: "acked"})
    await eventually(lambda: redis.xrange(names.keys.persist_stream, late_id, late_id),
                     lambda found: found == [])
    assert await history(api, "bob") == {fresh: "pending"}


async def test_who_may_erase_and_export(stack: Stack, redis: Redis, names: Names) -> None:
    api = stack.api
    mine = await post_event(api, "a1", "bob")
    theirs = await post_event(api, "a2", "bob", tenant="t2")
    await eventually(lambda: buffered(redis, names, "bob"), lambda f: mine in f)
    await eventually(lambda: buffered(redis, names, "bob", "t2"), lambda f: theirs in f)

    for method, path in (("DELETE", "/v1/users/bob"), ("GET", "/v1/users/bob/export")):
        nobody = await api.request(method, path)
        assert nobody.status_code == 401
        assert nobody.json()["error"] == "unauthorized"
        forged = await api.request(method, path, headers={
            "Authorization": f"Bearer {token('bob', secret='y' * 40)}"})
        assert forged.status_code == 401
        other = await api.request(method, path, headers={
            "Authorization": f"Bearer {token('carol')}"})
        assert other.status_code == 403
        assert other.json()["error"] == "forbidden"
        for bad in ("bad%20id", "x" * 129, "a%7Bb"):
            answer = await api.request(method, path.replace("bob", bad), headers=KEY)
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.json()["details"][0]["field"] == "userId"
        bad_tenant = await api.request(method, path + "?tenantId=bad%7Dt", headers=KEY)
        assert bad_tenant.status_code == 422
        assert bad_tenant.json()["details"][0]["field"] == "tenantId"
    assert list(await buffered(redis, names, "bob")) == [mine]

    # A user's own token exports and erases themselves, in their own tenant only.
    own = {"Authorization": f"Bearer {token('bob', 't2')}"}
    exported = await api.get("/v1/users/bob/export", headers=own)
    assert [n["id"] for n in exported.json()["pending"]] == [theirs]
    erased = await api.delete("/v1/users/bob", headers=own)
    assert erased.status_code == 200
    assert erased.json()["tenantId"] == "t2"
    assert erased.json()["erased"]["pending"] == 1
    assert await buffered(redis, names, "bob", "t2") == {}
    assert list(await buffered(redis, names, "bob")) == [mine]


async def test_redis_unreachable_is_503_naming_it(
    services: Callable[..., Service],
) -> None:
    producer = await services("producer", READ_API_KEYS=API_KEY,
                              REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
                              ).start(ready=False)
    async with httpx.AsyncClient(base_url=producer.url) as api:
        for method, path in (("DELETE", "/v1/users/bob"), ("GET", "/v1/users/bob/export")):
            answer = await api.request(method, path, headers=KEY, timeout=30)
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "dependency_unavailable"
            assert answer.json()["details"][0]["dependency"] == "redis"
            assert answer.headers["retry-after"]


class _ErasedMidWrite:
    """A real SQLite store whose next write lands just after an erasure of the user ran to
    completion (the race the persister's second look at the erasure index closes)."""

    def __init__(self, store: SqliteStore, erase: Callable[[], Any]) -> None:
        self._store = store
        self._erase = erase

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def upsert_rows(self, rows: Any) -> None:
        await self._erase()
        await self._store.upsert_rows(rows)


async def test_a_write_in_flight_during_the_erasure_is_erased_again(
    names: Names, tmp_path: Path,
) -> None:
    raw = Redis.from_url(REDIS_URL)  # bytes, as the persister reads the stream
    store = await SqliteStore.open(str(tmp_path / "store.db"))
    try:
        now = datetime.now(UTC)
        notes = [Notification(
            id=f"n-{user}", tenantId="default", userId=user, type=EventType.FOLLOW,
            actorId="alice", eventId=f"ev-{user}", message="alice started following you",
            priority=Priority.PROMOTIONAL, createdAt=now - timedelta(seconds=5),
            expiresAt=now + timedelta(hours=1)) for user in ("bob", "carol")]
        stream = PersistStream(raw, names.keys, "test-1", batch_size=100, block_ms=100,
                               claim_idle_ms=60_000)
        await stream.ensure_group()
        ids = [as_bytes(await raw.xadd(names.keys.persist_stream, stream_fields(encode_entry(
            n.model_dump_json(), Status.ACKED, to_ms(now))))) for n in notes]
        eraser = RedisErasure(raw, names.keys, 3600)

        async def erase_bob() -> None:
            await eraser.erase("default", "bob")
            await store.erase_user("default", "bob")

        worker = Worker(stream, _ErasedMidWrite(store, erase_bob),
                        asyncio.Event(), claim_interval_seconds=60, retry_max_seconds=0.5,
                        erasures=ErasureIndex(raw, names.keys))
        batch = await worker.prepare(await stream.read())
        assert len(batch.rows) == 2  # nothing was erased yet when it was read
        await worker.commit(batch)

        assert await store.export_user("default", "bob", 10) == []
        assert [r.notification.id for r in await store.export_user("default", "carol", 10)
                ] == ["n-carol"]
        left = await raw.xrange(names.keys.persist_stream)
        remaining = [i.decode() for i, _ in raw_entries(left)]
        assert ids[0].decode() not in remaining
        assert ids[1].decode() in remaining
    finally:
        await store.close()
        await raw.aclose()


def _notes(user: str, count: int, created: datetime, tenant: str = "default"
           ) -> list[Notification]:
    return [Notification(
        id=notification_id(tenant, f"ev-{user}-{i}", user), tenantId=tenant, userId=user,
        type=EventType.FOLLOW, actorId="alice", eventId=f"ev-{user}-{i}",
        message="alice started following you", priority=Priority.PROMOTIONAL,
        createdAt=created, expiresAt=created + timedelta(hours=1)) for i in range(count)]


async def test_the_redis_side_at_scale_and_the_buffering_script_after_it(
    redis: Redis, names: Names,
) -> None:
    """Pages and chunks: 1,200 pending notifications (the scripts' chunks of 500), a stream
    of 2,600 entries (pages of 1,000), most of them other users'; then the consumer's script
    against the tombstone."""
    buffer = NotificationBuffer(redis, names.keys, rate_limit_count=10**6,
                                rate_limit_window_ms=60_000, semantic_window_ms=60_000,
                                dedup_ttl_ms=3_600_000, max_pending=10_000)
    now = datetime.now(UTC)
    bob, carol = _notes("bob", 1200, now - timedelta(seconds=2)), _notes("carol", 3, now)
    before_ms = to_ms(now - timedelta(seconds=1))
    outcomes = await buffer.buffer([Pending(n, f"d{n.id}", before_ms) for n in bob + carol])
    assert set(outcomes) == {BufferOutcome.BUFFERED}
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(2600):
            n = bob[i // 20] if i % 20 == 0 else carol[i % 3]
            pipe.xadd(names.keys.persist_stream, stream_fields(encode_entry(
                n.model_dump_json(), Status.ACKED, to_ms(now))))
        await pipe.execute()

    erased = await RedisErasure(redis, names.keys, 3600).erase("default", "bob")
    assert (erased.pending, erased.stream, erased.markers) == (1200, 130, 2400)
    assert await user_keys(redis, names, "default", "bob") == {
        names.keys.erased_marker("default", "bob")}
    assert await expiry_members(redis, names, "default", "bob") == []
    assert await stream_notes(redis, names, "default", "bob") == []
    assert await redis.xlen(names.keys.persist_stream) == 2600 - 130
    assert len(await buffered(redis, names, "carol")) == 3
    assert await redis.hlen(names.keys.erased_marker("default", "bob")) == 1201  # ids and "at"
    assert 0 < await redis.pttl(names.keys.erased_marker("default", "bob")) <= 3_600_000
    assert await ErasureIndex(redis, names.keys).erased_at(
        [("default", "bob"), ("default", "carol")]) == {("default", "bob"): erased.at_ms}

    old = _notes("bob", 1, now)[0]
    new = old.model_copy(update={"id": notification_id("default", "ev-new", "bob"),
                                 "eventId": "ev-new"})
    after_ms = erased.at_ms + 1
    again = await buffer.buffer([
        Pending(old, None, after_ms),                 # an erased id, sent again: nothing
        Pending(bob[5].model_copy(update={"id": "x1"}), None, before_ms),  # accepted before
        Pending(new, None, after_ms),                 # a new event after the erasure: made
    ])
    assert again == [BufferOutcome.ERASED, BufferOutcome.ERASED, BufferOutcome.BUFFERED]
    assert list(await buffered(redis, names, "bob")) == [new.id]
    assert await expiry_members(redis, names, "default", "bob") == [
        f"default|bob|{new.id}"]
