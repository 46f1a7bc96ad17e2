"""The buffer's owner (:mod:`common.buffer`) against the real Redis: every operation's happy
path and its idempotent repeat, and the one way scripts run (NOSCRIPT reload)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from common.buffer.buckets import IngestBuckets
from common.buffer.erasure import ErasureIndex, RedisErasure
from common.buffer.expiry import ExpiryQueue
from common.buffer.formats import expiry_member
from common.buffer.inbox import AdmitRequest, BufferOutcome, Pending, RateVerdict
from common.buffer.pending import AckRequest, PendingStore
from common.buffer.scripts import ACK, BUFFER, RoundTrip, Script
from common.naming import Names
from common.records import Status
from common.telemetry.keys import trace_group, trace_key
from common.telemetry.reader import read_trace
from common.telemetry.trace import MAX_MARKS_PER_EVENT, Tracer
from tests.conftest import REDIS_URL
from tests.support.buffer import make_buffer, note, stream_rows, user_state
from tests.support.slots import check_slots, sharded_names  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    """A client that answers bytes, as the services' do."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_buffer_makes_the_notification_once(raw: Redis, redis: Redis,
                                                  names: Names) -> None:
    buffer = make_buffer(raw, names)
    n = note("e1")
    assert await buffer.buffer([Pending(n, None)]) == [BufferOutcome.BUFFERED]
    assert await buffer.buffer([Pending(n, None)]) == [BufferOutcome.DUPLICATE]
    assert await user_state(redis, names) == ({n.id}, {n.id})
    assert await redis.zscore(names.keys.expiry_index, expiry_member("default", "bob", n.id)) == \
        int(n.expiresAt.timestamp() * 1000)
    # no TTL of their own: a notification leaves only with its record (ack, expiry, cap)
    assert await redis.ttl(names.keys.pending_hash("default", "bob")) == -1
    assert await redis.ttl(names.keys.pending_index("default", "bob")) == -1


async def test_past_the_cap_the_oldest_leave_as_expired_capped_entries(
    raw: Redis, redis: Redis, names: Names,
) -> None:
    buffer = make_buffer(raw, names, max_pending=3)
    first = note("c0")
    made = [note(f"c{i}").model_copy(update={"createdAt": first.createdAt + timedelta(
        milliseconds=i)}) for i in range(5)]  # oldest first, a millisecond apart
    for n in made[:3]:
        assert await buffer.buffer([Pending(n, None)]) == [BufferOutcome.BUFFERED]
    assert await buffer.buffer([Pending(made[3], None)]) == [BufferOutcome.CAPPED]
    assert await buffer.buffer([Pending(made[4], None)]) == [BufferOutcome.CAPPED]
    assert await user_state(redis, names) == ({n.id for n in made[2:]},) * 2
    assert await stream_rows(redis, names) == [(made[0].id, "expired", None),
                                               (made[1].id, "expired", None)]
    capped: Any = await redis.xrange(names.keys.persist_stream_of("default", "bob"))
    assert [fields["why"] for _, fields in capped] == ["capped", "capped"]
    # other users keep their own room
    other = note("c-carol", "carol")
    assert await buffer.buffer([Pending(other, None)]) == [BufferOutcome.BUFFERED]


async def test_semantic_window_collapses_the_second_one(raw: Redis, redis: Redis,
                                                        names: Names) -> None:
    buffer = make_buffer(raw, names, semantic_ms=60_000)
    first, second = note("e1"), note("e2")
    assert await buffer.buffer([Pending(first, "like:p"), Pending(second, "like:p")]) == [
        BufferOutcome.BUFFERED, BufferOutcome.SEMANTIC_DUPLICATE]
    assert await user_state(redis, names) == ({first.id}, {first.id})


async def test_admit_and_buffer_is_one_round_trip_gated_on_the_admission(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = make_buffer(raw, names, limit=2)
    notes = [note(f"e{i}") for i in range(3)]
    gates = [AdmitRequest("default", "alice", f"e{i}") for i in range(3)]
    admissions, outcomes = await buffer.admit_and_buffer(
        gates, [Pending(n, None, gate=g) for n, g in zip(notes, gates, strict=True)])
    assert admissions == [RateVerdict.ADMITTED, RateVerdict.ADMITTED, RateVerdict.LIMITED]
    assert outcomes == [BufferOutcome.BUFFERED, BufferOutcome.BUFFERED, BufferOutcome.LIMITED]
    assert await user_state(redis, names) == ({notes[0].id, notes[1].id},) * 2
    # The limited one's expiry member went again with it.
    assert await redis.zcard(names.keys.expiry_index) == 2
    # The repeat (a redelivered batch): the admitted ones stay admitted, nothing is made twice.
    again = await buffer.admit_and_buffer(
        gates, [Pending(n, None, gate=g) for n, g in zip(notes, gates, strict=True)])
    assert again == (admissions, [BufferOutcome.DUPLICATE, BufferOutcome.DUPLICATE,
                                  BufferOutcome.LIMITED])


async def test_admit_alone_counts_an_event_once(raw: Redis, names: Names) -> None:
    buffer = make_buffer(raw, names, limit=1)
    assert await buffer.admit([("default", "alice", "e1")]) == [RateVerdict.ADMITTED]
    assert await buffer.admit([("default", "alice", "e1")]) == [RateVerdict.ADMITTED]
    assert await buffer.admit([("default", "alice", "e2")]) == [RateVerdict.LIMITED]


async def test_replay_count_and_newest(raw: Redis, names: Names) -> None:
    buffer = make_buffer(raw, names)
    notes = [note(f"e{i}") for i in range(3)]
    await buffer.buffer([Pending(n, None) for n in notes])
    store = PendingStore(raw, names.keys)
    assert await store.count("default", "bob") == 3
    replayed = await store.replay("default", "bob")
    assert sorted(i for i, _ in replayed) == sorted(n.id for n in notes)
    assert await store.replay("default", "bob") == replayed  # reading changes nothing
    newest = await store.newest("default", "bob", None, 2)
    assert len(newest) == 2
    assert await store.replay("default", "nobody") == []


async def test_replay_leaves_out_expired_ones_unless_asked(raw: Redis, names: Names) -> None:
    buffer = make_buffer(raw, names)
    old = note("e1", ttl=-1)
    await buffer.buffer([Pending(old, None)])
    store = PendingStore(raw, names.keys)
    assert await store.replay("default", "bob") == []
    assert [i for i, _ in await store.replay("default", "bob", include_expired=True)] == [old.id]


async def test_ack_records_then_removes_and_a_repeat_finds_nothing(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = make_buffer(raw, names)
    mine, other = note("e1"), note("e2", "carol")
    await buffer.buffer([Pending(mine, None), Pending(other, None)])
    store = PendingStore(raw, names.keys)
    request = AckRequest("default", "bob", (mine.id, other.id))
    assert await store.ack_many([request]) == [([mine.id], [other.id])]
    assert await store.ack_many([request]) == [([], [mine.id, other.id])]
    assert await stream_rows(redis, names) == [(mine.id, "acked", None)]
    assert await user_state(redis, names) == (set(), set())
    assert await user_state(redis, names, "carol") == ({other.id}, {other.id})


async def test_mark_read_is_an_ack_with_read_at_and_stored_ones_get_an_entry(
    raw: Redis, redis: Redis, names: Names
) -> None:
    n = note("e1")
    await make_buffer(raw, names).buffer([Pending(n, None)])
    store = PendingStore(raw, names.keys)
    assert await store.mark_read("default", "bob", n.id, 1234)
    assert not await store.mark_read("default", "bob", n.id, 5678)  # no longer pending
    await store.record_read(n, Status.EXPIRED, 99, 5678)
    assert await stream_rows(redis, names) == [(n.id, "acked", 1234), (n.id, "expired", 5678)]


async def test_expire_moves_due_ones_and_a_repeat_does_nothing(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = make_buffer(raw, names)
    due, later = note("e1", ttl=1), note("e2", ttl=3600)
    await buffer.buffer([Pending(due, None), Pending(later, None)])
    queue = ExpiryQueue(raw, names.keys)
    now_ms = int(time.time() * 1000) + 60_000
    found = await queue.lease_and_due("me", 10_000, now_ms, 100)
    assert found is not None
    assert [d.notification_id for d in found.parsed] == [due.id]
    assert await queue.lease_and_due("someone else", 10_000, now_ms, 100) is None
    assert await queue.expire(found.parsed) == 1
    assert await queue.expire(found.parsed) == 0  # the repeat finds it gone
    await queue.drop(found.members)
    await queue.drop(found.members)
    assert await stream_rows(redis, names) == [(due.id, "expired", None)]
    assert await user_state(redis, names) == ({later.id}, {later.id})
    again = await queue.lease_and_due("me", 10_000, now_ms, 100)
    assert again is not None
    assert again.members == []
    await queue.release("me")
    assert await queue.lease_and_due("someone else", 10_000, now_ms, 100) is not None


async def test_a_malformed_expiry_member_is_reported_and_dropped(raw: Redis, redis: Redis,
                                                                  names: Names) -> None:
    await redis.zadd(names.keys.expiry_index, {"no-bars": 1})
    queue = ExpiryQueue(raw, names.keys)
    found = await queue.lease_and_due("me", 10_000, 10, 100)
    assert found is not None
    assert found.malformed == [b"no-bars"]
    assert found.parsed == []
    await queue.drop(found.members)
    assert await redis.zcard(names.keys.expiry_index) == 0


async def test_erase_leaves_a_tombstone_and_a_repeat_is_harmless(
    raw: Redis, redis: Redis, names: Names
) -> None:
    buffer = make_buffer(raw, names)
    n, kept = note("e1"), note("e2", "carol")
    await buffer.buffer([Pending(n, None), Pending(kept, None)])
    eraser = RedisErasure(raw, names.keys, 3600)
    first = await eraser.erase("default", "bob")
    assert first.pending == 1
    second = await eraser.erase("default", "bob")
    assert second.pending == 0
    assert second.at_ms >= first.at_ms
    assert await user_state(redis, names) == (set(), set())
    assert await redis.zrange(names.keys.expiry_index, 0, -1) == [
        expiry_member("default", "carol", kept.id)]
    assert await buffer.buffer([Pending(n, None)]) == [BufferOutcome.ERASED]
    assert await redis.zcard(names.keys.expiry_index) == 1  # its member went again
    at = await ErasureIndex(raw, names.keys).erased_at([("default", "bob"), ("default", "carol")])
    assert at == {("default", "bob"): second.at_ms}
    assert await eraser.tombstone_at("default", "bob") == second.at_ms


async def test_token_bucket_charges_and_refuses(raw: Redis, names: Names) -> None:
    buckets = IngestBuckets(raw, names.keys, timeout_seconds=5)
    assert (await buckets.take("k1", 0.001, 2, 1))[0]
    assert (await buckets.take("k1", 0.001, 2, 1))[0]
    allowed, left = await buckets.take("k1", 0.001, 2, 1)
    assert not allowed
    assert left < 1


async def test_a_script_redis_does_not_know_is_loaded_and_only_it_is_run_again(
    raw: Redis, redis: Redis, names: Names
) -> None:
    """As after a Redis restart: EVALSHA answers NOSCRIPT; the round trip loads the script
    and re-runs just that call (an ACK run twice would lose its answer)."""
    n = note("e1")
    await make_buffer(raw, names).buffer([Pending(n, None)])
    fresh = ACK.text + f"\n-- {names.prefix}\n"
    unknown = Script("ack", fresh, hashlib.sha1(fresh.encode()).hexdigest())
    trip = RoundTrip()
    trip.command("INCR", f"{names.prefix}:counter")
    trip.script(unknown, [names.keys.pending_hash("default", "bob"),
                          names.keys.pending_index("default", "bob"),
                          names.keys.persist_stream_of("default", "bob")],
                [1, "", "", "", n.id])
    replies = await trip.run(raw)
    assert replies == [1, [n.id.encode()]]
    assert await redis.get(f"{names.prefix}:counter") == "1"  # not run twice
    assert await stream_rows(redis, names) == [(n.id, "acked", None)]


async def test_trace_marks_are_one_script_per_group_capped_and_expiring(
    raw: Redis, redis: Redis, names: Names, slot_rule: list[str],
) -> None:
    tracer = Tracer()
    tracer.start(raw, names, 60, "consumer", "test-1")
    try:
        for n in range(MAX_MARKS_PER_EVENT + 100):  # a huge fan-out's marks
            tracer.mark("ev-big", "delivered", 1000.0 + n, notificationId=f"n{n}")
        tracer.mark("ev-small", "consumed", 5.0)
        tracer.mark("ev-small", "buffered", 6.0, notifications=1)
        assert await tracer.flush() == MAX_MARKS_PER_EVENT + 102
        # one call per trace group (the slot rule checks each call's keys share a slot)
        assert slot_rule.count("trace") == len({trace_group("ev-big"), trace_group("ev-small")})
        tracer.mark("ev-big", "acked", 9999.0)
        assert await tracer.flush() == 1
    finally:
        await tracer.close()
    big = trace_key(names, "ev-big")
    assert await redis.llen(big) == MAX_MARKS_PER_EVENT  # the first ones are kept
    assert 0 < await redis.pttl(big) <= 60_000
    marks = await read_trace(raw, names, "ev-small")
    assert [(m["stage"], m["at"], m["service"]) for m in marks] == [
        ("consumed", 5.0, "consumer"), ("buffered", 6.0, "consumer")]


async def test_a_gate_in_another_shard_waits_for_its_admission_even_after_a_script_flush(
    raw: Redis, redis: Redis, prefix: str,
) -> None:
    """With shards, a notification whose actor is in another shard is buffered after the
    admission's round trip — also when Redis lost its scripts (the admits then run on the
    reload, after everything else in their pipeline)."""
    names = Names(prefix, 16)
    buffer = make_buffer(raw, names, limit=1)
    away = [u for u in (f"user{n}" for n in range(64))
            if names.keys.shard("default", u) != names.keys.shard("default", "spammer")][:2]
    notes = [note(f"e{i}", user=u, actor="spammer") for i, u in enumerate(away)]
    gates = [AdmitRequest("default", "spammer", f"e{i}") for i in range(2)]
    await raw.script_flush()
    admissions, outcomes = await buffer.admit_and_buffer(
        gates, [Pending(n, None, gate=g) for n, g in zip(notes, gates, strict=True)])
    assert admissions == [RateVerdict.ADMITTED, RateVerdict.LIMITED]
    assert outcomes == [BufferOutcome.BUFFERED, BufferOutcome.LIMITED]
    assert await user_state(redis, names, away[0]) == ({notes[0].id},) * 2
    assert await user_state(redis, names, away[1]) == (set(), set())
    # Gated on admissions made before (not in this call): read from the actor's log.
    later = [note("e0", user=away[1], actor="spammer"), note("e1", user=away[0], actor="spammer")]
    assert await buffer.buffer([Pending(later[0], None, gate=gates[0]),
                                Pending(later[1], None, gate=gates[1])]) == [
        BufferOutcome.BUFFERED, BufferOutcome.LIMITED]


async def test_a_gated_notification_is_made_when_redis_knew_buffer_lua_but_not_admit_lua(
    raw: Redis, redis: Redis, names: Names,
) -> None:
    """A Redis that lost its scripts, then saw only events without a rate limit, knows
    buffer.lua but not admit.lua: the admit is answered NOSCRIPT and runs again after the
    reload, after the gated buffer call, which found no admission. The notification must be
    made all the same (it was acked and lost: found by the fault ``redis-full-noeviction``,
    whose events are all SYSTEM ones until its probe)."""
    buffer = make_buffer(raw, names, limit=5)
    await raw.script_flush()
    await raw.script_load(BUFFER.text)
    notes = [note("e0"), note("e1")]
    gates = [AdmitRequest("default", "alice", f"e{i}") for i in range(2)]
    admissions, outcomes = await buffer.admit_and_buffer(
        gates, [Pending(n, None, gate=g) for n, g in zip(notes, gates, strict=True)])
    assert admissions == [RateVerdict.ADMITTED] * 2
    assert outcomes == [BufferOutcome.BUFFERED] * 2
    assert await user_state(redis, names) == ({notes[0].id, notes[1].id},) * 2
