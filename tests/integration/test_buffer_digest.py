"""Digests (:mod:`common.buffer.digest`) against the real Redis: open, join in place, the
update of a digest no longer pending reaching the persist stream, idempotence on the event,
two "first" events at once, the erasure tombstone, an erased actor, the live channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from common.buffer.digest import (
    DigestBuffer,
    DigestCandidate,
    DigestContention,
    DigestOutcome,
    DigestState,
    drop_erased,
)
from common.buffer.erasure import RedisErasure
from common.buffer.formats import erasure_member
from common.buffer.pending import AckRequest, PendingStore
from common.models import Notification
from common.naming import Names
from common.records import Status
from tests.conftest import REDIS_URL
from tests.support.buffer import note, stream_rows, user_state
from tests.support.replies import entries, text_fields
from tests.support.slots import check_slots, sharded_names  # noqa: F401  (fixtures)
from tests.support.timing import eventually

pytestmark = pytest.mark.integration

WINDOW_MS = 60_000


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    """A client that answers bytes, as the services' do."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def digests(redis: Redis, names: Names, **over: int) -> DigestBuffer:
    return DigestBuffer(redis, names.keys, dedup_ttl_ms=600_000,
                        max_pending=over.get("max_pending", 10_000),
                        max_attempts=over.get("max_attempts", 10))


def like(event_id: str, actor: str, user: str = "bob", post: str = "p1",
         window_ms: int = WINDOW_MS) -> DigestCandidate:
    n = note(event_id, user, actor=actor)
    n = n.model_copy(update={"postId": post})
    return DigestCandidate(n, f"postId={post}|commentId=", window_ms)


def render(state: DigestState) -> str:
    """The built-in LIKE digest line, as a template would say it."""
    first = state.actors[0]
    if state.others == 0:
        return f"{first} liked your post"
    return f"{first} and {state.others} other{'s' if state.others > 1 else ''} liked your post"


async def pending_bodies(redis: Redis, names: Names, user: str = "bob"
                         ) -> dict[str, Notification]:
    raw = text_fields(await redis.hgetall(names.keys.pending_hash("default", user)))
    return {k: Notification.model_validate_json(v) for k, v in raw.items()}


async def test_twelve_likes_make_one_notification_updated_in_place(
    raw: Redis, redis: Redis, names: Names, slot_rule: list[str]
) -> None:
    buffer = digests(raw, names)
    [opened] = await buffer.join([like("e0", "alice")], render)
    assert opened.outcome is DigestOutcome.OPENED
    assert opened.notification is not None
    first_id = opened.notification.id
    assert opened.notification.message == "alice liked your post"
    assert (opened.notification.count, opened.notification.actors,
            opened.notification.version) == (1, ["alice"], 1)
    # eleven more, in two batches
    batch = [like(f"e{i}", f"u{i}") for i in range(1, 7)]
    results = await buffer.join(batch, render)
    assert [r.outcome for r in results] == [DigestOutcome.JOINED] * 6
    results = await buffer.join([like(f"e{i}", f"u{i}") for i in range(7, 12)], render)
    assert [r.outcome for r in results] == [DigestOutcome.JOINED] * 5
    bodies = await pending_bodies(redis, names)
    assert list(bodies) == [first_id], "one notification, the same id"
    digest = bodies[first_id]
    assert digest.message == "u11 and 11 others liked your post"
    assert (digest.count, digest.actors, digest.version) == (12, ["u11", "u10", "u9"], 12)
    assert digest.createdAt == opened.notification.createdAt
    assert digest.actorId == "alice", "the opening actor stays the notification's actor"
    assert await user_state(redis, names) == ({first_id}, {first_id})
    assert await redis.zcard(names.keys.expiry_index) == 1
    assert await stream_rows(redis, names) == []
    assert "digest" in slot_rule


async def test_an_exact_redelivery_changes_nothing_and_a_repeated_actor_nothing_either(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    await buffer.join([like("e0", "alice"), like("e1", "carol")], render)
    before = await pending_bodies(redis, names)
    again = await buffer.join([like("e0", "alice"), like("e1", "carol")], render)
    assert [r.outcome for r in again] == [DigestOutcome.DUPLICATE] * 2
    repeated = await buffer.join([like("e2", "carol"), like("e3", "alice")], render)
    assert [r.outcome for r in repeated] == [DigestOutcome.REPEATED] * 2
    assert await pending_bodies(redis, names) == before
    # a redelivery of a repeated one is a duplicate too: every event is made once
    assert [r.outcome for r in await buffer.join([like("e2", "carol")], render)] == [
        DigestOutcome.DUPLICATE]
    [digest] = before.values()
    assert (digest.count, digest.version) == (2, 2)


async def test_other_groups_and_recipients_have_digests_of_their_own(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    results = await buffer.join([like("e0", "alice"), like("e1", "carol", post="p2"),
                                 like("e2", "dave", user="erin"), like("e3", "frank")],
                                render)
    assert [r.outcome for r in results] == [DigestOutcome.OPENED, DigestOutcome.OPENED,
                                            DigestOutcome.OPENED, DigestOutcome.JOINED]
    assert len(await pending_bodies(redis, names)) == 2
    assert len(await pending_bodies(redis, names, "erin")) == 1


async def test_two_first_events_at_the_same_moment_open_one_digest(
    raw: Redis, redis: Redis, names: Names
) -> None:
    """Consumers racing: each reads "no digest", one opens it, the others conflict, read
    again and join."""
    clients = [Redis.from_url(REDIS_URL) for _ in range(8)]
    try:
        buffers = [digests(c, names) for c in clients]
        outcomes = await asyncio.gather(*(
            b.join([like(f"e{i}", f"a{i}")], render) for i, b in enumerate(buffers)))
    finally:
        for c in clients:
            await c.aclose()
    flat = sorted(r.outcome for [r] in outcomes)
    assert flat == [DigestOutcome.OPENED] + [DigestOutcome.JOINED] * 7
    [digest] = (await pending_bodies(redis, names)).values()
    assert (digest.count, digest.version) == (8, 8)
    assert digest.message.endswith("and 7 others liked your post")
    assert await redis.zcard(names.keys.expiry_index) == 1, "the losers' members went again"


async def test_contention_past_the_attempts_is_an_error_and_a_repeat_is_safe(
    raw: Redis, redis: Redis, names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that keeps losing: another consumer joins the digest between each of its
    reads and writes. After ``max_attempts`` rounds it raises; the repeat joins once."""
    buffer = digests(raw, names, max_attempts=2)
    other = digests(raw, names)
    await buffer.join([like("e0", "alice")], render)
    original = buffer._write
    rounds = 0

    async def write_after_another(cands: Sequence[DigestCandidate], writes: Any) -> Any:
        nonlocal rounds
        rounds += 1
        await other.join([like(f"x{rounds}", f"x{rounds}")], render)
        return await original(cands, writes)

    with monkeypatch.context() as patch:
        patch.setattr(buffer, "_write", write_after_another)
        with pytest.raises(DigestContention):
            await buffer.join([like("e1", "carol")], render)
    assert rounds == 2
    [result] = await buffer.join([like("e1", "carol")], render)
    assert result.outcome is DigestOutcome.JOINED
    [digest] = (await pending_bodies(redis, names)).values()
    assert (digest.count, digest.version) == (4, 4)
    assert digest.actors == ["carol", "x2", "x1"]


async def test_an_update_of_an_acked_digest_goes_to_the_stream_unread_again(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    [opened] = await buffer.join([like("e0", "alice")], render)
    assert opened.notification is not None
    digest_id = opened.notification.id
    [acked] = await PendingStore(raw, names.keys).ack_many(
        [AckRequest("default", "bob", (digest_id,))])
    assert acked == ([digest_id], [])
    [joined] = await buffer.join([like("e1", "carol")], render)
    assert joined.outcome is DigestOutcome.JOINED_STORED
    assert await user_state(redis, names) == (set(), set()), "not pending again"
    rows = await stream_rows(redis, names)
    assert [(i, s) for i, s, _ in rows] == [(digest_id, Status.ACKED.value),
                                             (digest_id, Status.EXPIRED.value)]
    [_, (_, update)] = entries(
        await redis.xrange(names.keys.persist_stream_of("default", "bob")))
    body = Notification.model_validate_json(update["n"])
    assert (body.version, body.count, body.message) == (2, 2, "carol and 1 other liked your post")
    assert update["why"] == "digest"
    assert int(update["t"]) == int(body.expiresAt.timestamp() * 1000)


async def test_the_live_channel_gets_the_opening_and_every_update(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    pubsub = raw.pubsub()
    await pubsub.subscribe(names.keys.live_channel("default", "bob"))
    got: list[dict[str, object]] = []
    try:
        await buffer.join([like("e0", "alice"), like("e1", "carol")], render)
        await buffer.join([like("e2", "carol")], render)  # repeated: nothing pushed
        await buffer.join([like("e3", "dave")], render)

        async def read() -> int:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                got.append(orjson.loads(message["data"]))
            return len(got)

        await eventually(read, lambda n: n >= 3)
    finally:
        await pubsub.aclose()
    assert [(m["version"], m["count"]) for m in got] == [(1, 1), (2, 2), (3, 3)]
    assert len({m["id"] for m in got}) == 1


async def test_the_window_closes_and_the_next_event_opens_a_new_digest(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    [first] = await buffer.join([like("e0", "alice", window_ms=50)], render)
    key = buffer.state_key(like("e0", "alice"))
    assert 0 < await redis.pttl(key) <= 50

    async def open_digests() -> int:
        return int(await redis.exists(key))

    await eventually(open_digests, lambda n: n == 0)
    [second] = await buffer.join([like("e1", "carol", window_ms=50)], render)
    assert second.outcome is DigestOutcome.OPENED
    assert first.notification is not None
    assert second.notification is not None
    assert second.notification.id != first.notification.id
    assert len(await pending_bodies(redis, names)) == 2


async def test_an_erased_recipient_stops_joins_and_a_later_event_opens_anew(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    accepted_before = int(datetime.now(UTC).timestamp() * 1000) - 1000
    [opened] = await buffer.join([like("e0", "alice")], render)
    erased = await RedisErasure(raw, names.keys, 3600).erase("default", "bob")
    key = buffer.state_key(like("e0", "alice"))
    assert not await redis.exists(key), "the erasure deleted the open digest"
    # an event accepted before the erasure makes nothing
    late = like("e1", "carol")
    late = DigestCandidate(late.notification, late.group, late.window_ms, accepted_before)
    assert [r.outcome for r in await buffer.join([late], render)] == [DigestOutcome.ERASED]
    # a digest state made before the erasure (say, written back by a racing consumer) is
    # never joined: an event accepted after the erasure opens a new digest
    assert opened.notification is not None
    await redis.hset(key, mapping={"id": opened.notification.id, "v": "1", "e": "e0",
                                   "made": str(erased.at_ms - 5), "n": "1",
                                   "actors": '[["alice", 1]]', "a:alice": "1",
                                   "body": opened.notification.model_dump_json()})
    after = like("e2", "dave")
    after = DigestCandidate(after.notification, after.group, after.window_ms,
                            erased.at_ms + 1)
    [result] = await buffer.join([after], render)
    assert result.outcome is DigestOutcome.OPENED
    assert result.notification is not None
    assert result.notification.id == after.notification.id
    assert list(await pending_bodies(redis, names)) == [after.notification.id]


async def test_an_erased_actor_leaves_the_list_and_the_count_stays(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)
    await buffer.join([like("e0", "alice"), like("e1", "carol"), like("e2", "dave")], render)
    # carol is erased (the erasure index is what every service reads)
    now_ms = int(datetime.now(UTC).timestamp() * 1000) + 10
    await redis.zadd(names.keys.erasure_index, {erasure_member("default", "carol"): now_ms})
    await buffer.join([like("e3", "erin")], render)
    [digest] = (await pending_bodies(redis, names)).values()
    assert digest.actors == ["erin", "dave", "alice"]
    assert digest.count == 4
    assert digest.message == "erin and 3 others liked your post"


def test_drop_erased_keeps_an_actor_who_came_back_after_the_erasure() -> None:
    actors = [("carol", 2_000), ("dave", 1_500), ("alice", 1_000)]
    assert drop_erased(actors, {"carol": 1_800, "alice": 1_000}) == actors[:2]
    assert drop_erased(actors, {}) == actors


async def test_a_failing_render_fails_that_candidate_only(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names)

    def picky(state: DigestState) -> str:
        if "bad" in state.actors[0]:
            raise ValueError("template_failed: undefined 'x'")
        return render(state)

    results = await buffer.join([like("e0", "alice"), like("e1", "bad"), like("e2", "carol")],
                                picky)
    assert [r.outcome for r in results] == [DigestOutcome.OPENED, DigestOutcome.RENDER_FAILED,
                                            DigestOutcome.JOINED]
    assert isinstance(results[1].error, ValueError)
    [digest] = (await pending_bodies(redis, names)).values()
    assert (digest.count, digest.actors) == (2, ["carol", "alice"])
    # the failed event is not marked made: a replay of it (dead-letter queue) can join
    [again] = await buffer.join([like("e1", "bad2")], render)
    assert again.outcome is DigestOutcome.JOINED


async def test_a_digest_opened_over_the_cap_pushes_the_oldest_out(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = digests(raw, names, max_pending=1)
    await buffer.join([like("e0", "alice", post="p1")], render)
    [capped] = await buffer.join([like("e1", "carol", post="p2")], render)
    assert capped.outcome is DigestOutcome.CAPPED
    assert len(await pending_bodies(redis, names)) == 1
    assert [s for _, s, _ in await stream_rows(redis, names)] == [Status.EXPIRED.value]
