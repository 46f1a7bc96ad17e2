"""The held buffer (:mod:`common.buffer.held`) against the real Redis, with one shard and with
sixteen (every script call checked for the slot rule): holding is idempotent per notification
id, the release takes the earliest due ones in bounded batches, a releaser killed anywhere
between taking and forgetting loses nothing and makes nothing twice, a changed profile moves
a user's held notifications, and held notifications survive a killed Redis (AOF), as the
pending buffer does. Time is passed in (``now_ms``), never waited for."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from common.buffer.erasure import RedisErasure
from common.buffer.held import HeldBuffer, HeldEntry, Hold, HoldOutcome
from common.buffer.inbox import BufferOutcome, Pending
from common.models import Event, Notification
from common.naming import Names
from consumer.rules import build_notifications
from tests.conftest import REDIS_URL
from tests.support.buffer import make_buffer, user_state
from tests.support.events import event_body
from tests.support.redis_server import RedisServer, redis_server
from tests.support.slots import check_slots, sharded_names  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

T0 = 1_750_000_000_000  # a fixed "now" (epoch ms): the tests pass time in
TEXT = "x" * 500
EVENTS: dict[str, str] = {}  # notification id -> the JSON of the event it was made from


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    """A client that answers bytes, as the services' do."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def note(event_id: str, user: str = "bob", **over: Any) -> Notification:
    """The one notification of a LIKE (or ``type``) ``event_id`` for ``user``, made from
    :func:`event_of`'s event, as the consumer makes it."""
    event_json = event_of(event_id, user, **over)
    made = made_of(event_json, user)
    EVENTS[made.id] = event_json
    return made


def event_of(event_id: str, user: str = "bob", **over: Any) -> str:
    """The event JSON as the consumer receives it."""
    return event_body(event_id, recipients=[user], postId=f"p-{event_id}", **over).decode()


def made_of(event_json: str, user: str) -> Notification:
    event = Event.model_validate_json(event_json)
    [made] = [n for n in build_notifications(event, event.acceptedAt, 600) if n.userId == user]
    return made


def held(n: Notification, release_ms: int) -> Hold:
    """The hold of ``n`` (made by :func:`note`): its event's JSON, as received."""
    event_json = EVENTS[n.id]
    accepted = Event.model_validate_json(event_json).acceptedAt
    return Hold(n.tenantId, n.userId, n.id, event_json, release_ms,
                int(accepted.timestamp() * 1000), held_ms=T0)


def remade(entry: HeldEntry) -> Notification:
    """What the release makes of an entry: the event's notification for its recipient."""
    return made_of(entry.event_json, entry.user_id)


async def test_hold_is_idempotent_and_the_first_release_stands(raw: Redis,
                                                               names: Names, redis: Redis) -> None:
    box = HeldBuffer(raw, names.keys)
    n = note("q1")
    assert await box.hold([held(n, T0 + 1000)]) == [HoldOutcome.HELD]
    assert await box.hold([held(n, T0 + 9000)]) == [HoldOutcome.DUPLICATE]
    assert await box.count() == 1
    assert await box.due(T0 + 999, 10) == []
    [entry] = await box.due(T0 + 1000, 10)
    assert (entry.tenant_id, entry.user_id, entry.notification_id) == ("default", "bob", n.id)
    assert (entry.held_ms, entry.release_ms, entry.due_ms) == (T0, T0 + 1000, T0 + 1000)
    assert remade(entry).id == n.id  # the event as received makes the same notification
    # nothing is in the pending buffer: held is not visible
    assert await user_state(redis, names) == (set(), set())


async def test_a_notification_made_already_or_of_an_erased_user_is_not_held(
    raw: Redis, names: Names,
) -> None:
    box = HeldBuffer(raw, names.keys)
    made = note("q-made")
    assert await make_buffer(raw, names).buffer([Pending(made, None)]) == [
        BufferOutcome.BUFFERED]
    assert await box.hold([held(made, T0)]) == [HoldOutcome.MADE]
    gone = note("q-gone", "carol")
    await RedisErasure(raw, names.keys, 3600).erase("default", "carol")
    assert await box.hold([held(gone, T0)]) == [HoldOutcome.ERASED]
    assert await box.count() == 0


async def test_due_takes_the_earliest_in_bounded_batches_over_every_shard(
    raw: Redis, names: Names,
) -> None:
    box = HeldBuffer(raw, names.keys)
    notes = [note(f"b{i}", f"user{i}") for i in range(30)]
    assert await box.hold([held(n, T0 + i) for i, n in enumerate(notes)]) == [
        HoldOutcome.HELD] * 30
    assert await box.next_due_ms() == T0
    first = await box.due(T0 + 100, 10)
    assert [e.notification_id for e in first] == [n.id for n in notes[:10]]
    second = await box.due(T0 + 100, 10)  # the first ten are claimed: not taken again
    assert [e.notification_id for e in second] == [n.id for n in notes[10:20]]
    assert await box.done(first + second) == 20
    assert await box.count() == 10
    assert len(await box.due(T0 + 100, 500)) == 10
    with pytest.raises(ValueError, match="limit"):
        await box.due(T0, 0)


async def test_a_releaser_killed_before_making_loses_nothing(raw: Redis,
                                                             names: Names, redis: Redis) -> None:
    box = HeldBuffer(raw, names.keys)
    n = note("k1")
    await box.hold([held(n, T0)])
    taken = await box.due(T0, 10, claim_ms=5000)  # ... and the releaser dies here
    assert len(taken) == 1
    assert await box.due(T0 + 4999, 10) == []  # claimed
    [again] = await box.due(T0 + 5000, 10, claim_ms=5000)  # the claim lapsed: due again
    assert again.notification_id == n.id
    assert await make_buffer(raw, names).buffer([Pending(remade(again), None)]) == [
        BufferOutcome.BUFFERED]
    assert await box.done([taken[0]]) == 0  # the dead releaser's claim no longer holds
    assert await box.done([again]) == 1
    assert await box.count() == 0
    assert await user_state(redis, names) == ({n.id}, {n.id})


async def test_a_releaser_killed_after_making_makes_nothing_twice(
    raw: Redis, names: Names, redis: Redis,
) -> None:
    box = HeldBuffer(raw, names.keys)
    buffer = make_buffer(raw, names)
    n = note("k2")
    await box.hold([held(n, T0)])
    [taken] = await box.due(T0, 10, claim_ms=1000)
    assert await buffer.buffer([Pending(remade(taken), None)]) == [BufferOutcome.BUFFERED]
    # killed before done: the claim lapses, the entry is taken and made again -> a no-op
    [again] = await box.due(T0 + 1000, 10)
    assert await buffer.buffer([Pending(remade(again), None)]) == [BufferOutcome.DUPLICATE]
    assert await box.done([again]) == 1
    assert await box.count() == 0
    # the event redelivered by RabbitMQ afterwards is not held again
    assert await box.hold([held(n, T0)]) == [HoldOutcome.MADE]
    assert await user_state(redis, names) == ({n.id}, {n.id})


async def test_a_changed_profile_moves_the_users_held_notifications(raw: Redis,
                                                                    names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    mine = [note(f"m{i}", "dora") for i in range(3)]
    other = note("m-other", "erin")
    await box.hold([held(n, T0 + 60_000) for n in [*mine, other]])
    assert {e.notification_id for e in await box.of_user("default", "dora")} == {
        n.id for n in mine}
    # dora moved to a zone where her night ends two hours later
    moved = await box.reschedule("default", "dora", lambda e: e.release_ms + 7_200_000)
    assert moved == 3
    taken = await box.due(T0 + 60_000, 10)
    assert [e.notification_id for e in taken] == [other.id]
    assert await box.done(taken) == 1
    assert {e.notification_id for e in await box.due(T0 + 7_260_000, 10)} == {
        n.id for n in mine}
    # ... and back to "no quiet hours": released at the next turn
    await box.hold([held(note("m-late", "dora"), T0 + 9_000_000)])
    assert await box.reschedule("default", "dora", lambda e: T0) >= 1


async def test_an_entry_moved_while_being_released_stays_held(raw: Redis,
                                                              names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    n = note("mv")
    await box.hold([held(n, T0)])
    [taken] = await box.due(T0, 10)
    # the release found the user in (new) quiet hours again: moved to later
    assert await box.move([(taken, T0 + 3_600_000)]) == 1
    assert await box.done([taken]) == 0
    assert await box.count() == 1
    assert await box.due(T0 + 3_599_999, 10) == []
    [later] = await box.due(T0 + 3_600_000, 10)
    assert await box.done([later]) == 1
    assert await box.move([(later, T0)]) == 0  # gone: nothing to move


async def test_unhold_forgets_an_erased_users_held_notifications(raw: Redis,
                                                                 names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    await box.hold([held(note(f"u{i}", "fay"), T0) for i in range(600)]
                   + [held(note("u-keep", "gus"), T0)])
    assert await box.unhold("default", "fay") == 600
    assert await box.unhold("default", "fay") == 0
    assert [e.user_id for e in await box.due(T0, 1000)] == ["gus"]


async def test_held_notifications_survive_a_killed_redis(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "--appendonly", "yes", "--appendfsync", "always")
    await server.start()
    try:
        client = Redis.from_url(server.url)
        names = Names("hk" + str(time.time_ns())[-6:], 4)
        box = HeldBuffer(client, names.keys)
        notes = [note(f"s{i}", f"user{i}") for i in range(20)]
        await box.hold([held(n, T0 + i) for i, n in enumerate(notes)])
        taken = await box.due(T0 + 100, 5)  # five claimed when Redis dies
        await client.aclose()
        server.kill()
        await server.start()
        client = Redis.from_url(server.url)
        box = HeldBuffer(client, names.keys)  # Redis lost its scripts: NOSCRIPT reload
        assert await box.count() == 20
        assert await box.done(taken) == 5  # the claims survived too
        rest = await box.due(T0 + 100, 100)
        assert [e.notification_id for e in rest] == [n.id for n in notes[5:]]
        await client.aclose()
    finally:
        server.kill()


async def test_on_a_full_redis_holding_is_refused_and_the_release_still_runs(
    tmp_path: Path,
) -> None:
    async with redis_server(tmp_path, "--maxmemory", "3mb",
                            "--maxmemory-policy", "noeviction") as port:
        client = Redis(host="127.0.0.1", port=port)
        try:
            box = HeldBuffer(client, Names("hf", 1).keys)
            held_ones: list[Notification] = []
            with pytest.raises(OutOfMemoryError):  # noqa: PT012  (fill until refused)
                for i in range(20_000):
                    n = note(f"f{i}", f"user{i % 50}", type="COMMENT", text=TEXT)
                    assert await box.hold([held(n, T0)]) == [HoldOutcome.HELD]
                    held_ones.append(n)
            assert await box.count() == len(held_ones)
            taken = await box.due(T0, 100)  # claim.lua: allow-oom
            assert await box.move([(taken[0], T0 + 1)]) == 1  # move.lua: allow-oom
            assert await box.done(taken[1:]) == 99  # done.lua: allow-oom
            assert await box.unhold("default", "user7") > 0  # unhold.lua: allow-oom
            assert await box.count() < len(held_ones) - 99
        finally:
            await client.aclose()
