"""``release``: the burst when many users' quiet hours end at the same minute.

``--held`` notifications (default 10,000) of as many users are held in the local Redis
(:class:`~common.buffer.held.HeldBuffer`), all due at the same instant, as if every one of
those users' quiet hours ended at 07:00. Then the consumer's :class:`~consumer.release.Releaser`
turns back to back (no interval), each turn taking at most ``--release-batch`` (default 500,
``HERALD_RELEASE_BATCH``) and making them for real: the event parsed, its notification built
and buffered with the consumer's own :class:`~common.buffer.inbox.NotificationBuffer` (the
pending buffer, the "already made" marker, the replay order, the live channel's publish),
then forgotten. No templates, preferences or digests yet: those are the pipeline's
(the lead's ``make``), so this is the release path's own cost.

Figures: entries/s over the whole drain (the ceiling of one releaser), the largest turn (the
burst bound: never more than the batch), the slowest turn, and the time to drain at the
service's pace (``--release-interval``, default 1 s, between turns): what a user waits at
most past 07:00. Every held notification must end in the pending buffer exactly once.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.procstat import ProcSampler, broker_pids
from bench.stack import REDIS_URL
from common.buffer.held import HeldBuffer, HeldEntry, Hold, HoldOutcome
from common.buffer.inbox import NotificationBuffer, Pending
from common.models import Event, EventType, notification_id
from common.naming import Names
from common.redis_pool import open_redis
from consumer.release import Releaser, wall_ms
from consumer.rules import build_notifications

__all__ = ["run_release"]

TTL_SECONDS = 86400.0


async def run_release(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit("release: measures the held buffer on this machine's Redis")
    count, batch, interval = opts.held, opts.release_batch, opts.release_interval
    names = Names(f"bench-release-{time.time_ns()}")
    redis = open_redis(REDIS_URL, max_connections=8, socket_timeout=None)
    held = HeldBuffer(redis, names.keys)
    buffer = NotificationBuffer(redis, names.keys, rate_limit_count=10**6,
                                rate_limit_window_ms=60_000, semantic_window_ms=0,
                                dedup_ttl_ms=7 * 86400 * 1000, max_pending=10_000)
    sampler = ProcSampler({"load-tool": os.getpid(), **{
        name: pid for name, pid in broker_pids().items() if name.startswith("redis")}})
    try:
        await _hold(held, count)

        async def make(entries: Sequence[HeldEntry]) -> None:
            now = datetime.now(UTC)
            items = []
            for entry in entries:
                event = Event.model_validate_json(entry.event_json)
                items += [Pending(n, None, int(event.acceptedAt.timestamp() * 1000))
                          for n in build_notifications(event, now, TTL_SECONDS)
                          if n.userId == entry.user_id]
            await buffer.buffer(items)

        releaser = Releaser(held, make, batch=batch, interval_seconds=interval,
                            claim_seconds=60, clock=wall_ms)
        turns: list[tuple[int, float]] = []
        async with sampler:
            started = time.perf_counter()
            for _ in range(math.ceil(count / batch) + 2):  # bounded: the drain and a spare
                turn_started = time.perf_counter()
                released = await releaser.turn()
                if not released:
                    break
                turns.append((released, time.perf_counter() - turn_started))
            drained = time.perf_counter() - started
        left = await held.count()
        made = await _pending_total(redis, names, count)
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{names.prefix}:*", count=5000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start:start + 1000])
        await redis.aclose()
    released_total = sum(n for n, _ in turns)
    slowest = max((s for _, s in turns), default=0.0)
    paced = (len(turns) - 1) * interval + (turns[-1][1] if turns else 0.0)
    return {
        "scenario": "release",
        "params": {"held": count, "release_batch": batch, "release_interval_s": interval},
        "headline": {
            "entries_per_s": round(released_total / drained) if drained else 0,
            "max_per_turn": max((n for n, _ in turns), default=0),
            "slowest_turn_ms": round(slowest * 1000, 1),
            "drain_s_back_to_back": round(drained, 2),
            "drain_s_at_interval": round(paced, 1),
            "lost": count - made, "left_held": left,
        },
        "target": f"at most {batch} per turn; every held notification made once",
        "turns": len(turns),
        "procstat": sampler.report(),
    }


async def _hold(held: HeldBuffer, count: int, chunk: int = 1000) -> None:
    """``count`` LIKE events, one per user, held until now (their quiet hours just ended)."""
    now = datetime.now(UTC)
    accepted = now - timedelta(hours=9)
    due = int(now.timestamp() * 1000)
    run = f"{time.time_ns() % 10**9}"
    for start in range(0, count, chunk):
        holds = []
        for i in range(start, min(start + chunk, count)):
            user = f"u{i}"
            event = Event(eventId=f"r{run}-{i}", type=EventType.LIKE, actorId=f"a{i % 997}",
                          recipients=[user], postId=f"p{i}", occurredAt=accepted,
                          acceptedAt=accepted)
            holds.append(Hold(event.tenantId, user,
                              notification_id(event.tenantId, event.eventId, user),
                              event.model_dump_json(), due,
                              int(accepted.timestamp() * 1000), held_ms=due - 9 * 3_600_000))
        outcomes = await held.hold(holds)
        assert outcomes == [HoldOutcome.HELD] * len(holds), "hold refused some"


async def _pending_total(redis: Any, names: Names, users: int) -> int:
    total = 0
    for start in range(0, users, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 1000, users)):
                pipe.hlen(names.keys.pending_hash("default", f"u{i}"))
            total += sum(await pipe.execute())
    return total
