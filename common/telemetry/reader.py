"""The console's side of telemetry: live replicas' snapshots, a user's presence, a trace.

Every function raises redis-py's ``ConnectionError``/``TimeoutError`` when Redis does not
answer (the HTTP layer answers 503 naming it). Unreadable values are skipped, not fatal.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.asyncio import Redis

from common.naming import Names
from common.redis_pool import as_text
from common.telemetry.keys import (
    presence_key,
    presence_member,
    replica_key,
    replicas_index,
    trace_key,
)
from common.telemetry.reporter import SNAPSHOT_TTL_MS
from common.telemetry.trace import MAX_MARKS_PER_EVENT

__all__ = ["read_snapshots", "read_trace", "user_presence"]

MAX_REPLICAS = 1000


async def _live_members(redis: Redis, names: Names) -> list[tuple[str, str]]:
    since = int(time.time() * 1000) - SNAPSHOT_TTL_MS
    members = await redis.zrangebyscore(replicas_index(names), since, "+inf", start=0,
                                        num=MAX_REPLICAS)
    found = []
    for member in members:
        service, _, replica = as_text(member).partition("|")
        if service and replica:
            found.append((service, replica))
    return found


async def read_snapshots(redis: Redis, names: Names) -> list[dict[str, Any]]:
    """The latest snapshot of every live replica of every service."""
    members = await _live_members(redis, names)
    if not members:
        return []
    raw = await redis.mget([replica_key(names, s, r) for s, r in members])
    snapshots = []
    for body in raw:
        if not body:
            continue
        try:
            snapshot = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(snapshot, dict):
            snapshots.append(snapshot)
    return snapshots


async def user_presence(redis: Redis, names: Names, tenant_id: str,
                        user_id: str) -> list[dict[str, Any]]:
    """Open connections of one user on each live gateway replica (replicas with none left
    out)."""
    gateways = [r for s, r in await _live_members(redis, names) if s == "ws_gateway"]
    if not gateways:
        return []
    member = presence_member(tenant_id, user_id)
    async with redis.pipeline(transaction=False) as pipe:
        for replica in gateways:
            pipe.hget(presence_key(names, replica), member)
        counts = await pipe.execute()
    return [{"replica": replica, "connections": int(count)}
            for replica, count in zip(gateways, counts, strict=True) if count]


async def read_trace(redis: Redis, names: Names, event_id: str) -> list[dict[str, Any]]:
    """The event's marks, oldest first (``[]``: unknown, expired, or tracing off)."""
    raw = await redis.lrange(trace_key(names, event_id), 0, MAX_MARKS_PER_EVENT - 1)
    marks = []
    for body in raw:
        try:
            mark = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if isinstance(mark, dict) and isinstance(mark.get("at"), int | float):
            marks.append(mark)
    marks.sort(key=lambda m: m["at"])
    return marks
