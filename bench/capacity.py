"""Capacity: how much Redis a pending notification takes (by its size), how much Redis a
connected user's live channel takes, and how much store a stored row takes.

Everything runs on a ``redis-server`` the bench starts for itself (loopback, free port,
nothing on disk), so no other client's keys move ``used_memory``:

* **pending**: ``--notifications`` notifications of one JSON size are buffered for offline
  users (``--pending-per-user`` each) with the consumer's own code (``buffer.lua``): the
  seen marker, the pending hash field, the replay-order member and the expiry-index member.
  Bytes per notification = ``used_memory`` after minus before, divided by their number.
* **after ack**: the same ones acknowledged (``ack.lua``) and their persist-stream entries
  stored and trimmed, as the persister does: what stays until ``DEDUP_TTL_SECONDS`` (the
  "already made" marker) and the notification's ``expiresAt`` (its expiry-index member).
* **per connected user**: ``--users`` live channels subscribed on one connection, as a
  gateway's hub does: ``used_memory`` per subscription.
* **store row**: the same notifications written to a fresh SQLite store with
  ``upsert_rows`` (the persister's call), checkpointed: file bytes per row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from common.buffer.inbox import NotificationBuffer, Pending
from common.buffer.pending import AckRequest, PendingStore
from common.models import Event, Notification
from common.naming import Names
from common.records import Status
from common.rows import make_row
from common.store.factory import open_store
from consumer.rules import build_notifications

__all__ = ["run_capacity"]

CHUNK = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def _own_redis(workdir: Path) -> AsyncIterator[Redis]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
        "no", "--dir", str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                await client.ping()
                break
            except Exception:  # not answering yet (OSError, redis-py's ConnectionError)
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("the bench's redis-server did not start") from None
                await asyncio.sleep(0.05)
        yield client
    finally:
        await client.aclose()
        proc.kill()
        await proc.wait()


async def _used(redis: Redis) -> int:
    info: dict[str, Any] = await redis.info("memory")
    return int(info["used_memory"])


def _notifications(count: int, size: int, per_user: int) -> list[Notification]:
    """``count`` COMMENT notifications whose JSON is about ``size`` bytes (their ``message``
    padded: a longer template, or the longer text a product team's own template makes),
    ``per_user`` to each recipient. The smallest is what Herald's built-in sentence makes."""
    now = datetime.now(UTC)
    probe = _one(0, now, 0)
    pad = max(0, size - len(probe.model_dump_json()))
    return [_one(i // per_user, now, pad, i) for i in range(count)]


def _one(user: int, now: datetime, pad: int, n: int = 0) -> Notification:
    event = Event.model_validate({
        "eventId": f"cap-{n}", "type": "COMMENT", "actorId": "alice",
        "recipients": [f"user-{user}"], "postId": f"post-{n}", "text": "nice post",
        "occurredAt": now, "acceptedAt": now})
    [made] = build_notifications(event, now, 86400.0)
    if pad:
        made = made.model_copy(update={"message": made.message + " " + "x" * (pad - 1)})
    return made


async def _pending_bytes(redis: Redis, names: Names, notes: list[Notification]
                         ) -> dict[str, float]:
    await redis.flushall()
    before = await _used(redis)
    buffer = NotificationBuffer(redis, names.keys, rate_limit_count=10**9,
                                rate_limit_window_ms=60_000, semantic_window_ms=0,
                                dedup_ttl_ms=7 * 86_400_000, max_pending=10**6,
                                timeout_seconds=30)
    for start in range(0, len(notes), CHUNK):
        await buffer.buffer([Pending(n, None) for n in notes[start:start + CHUNK]])
    pending = await _used(redis)
    store = PendingStore(redis, names.keys, timeout_seconds=30)
    by_user: dict[str, list[str]] = {}
    for n in notes:
        by_user.setdefault(n.userId, []).append(n.id)
    requests = [AckRequest("default", user, tuple(ids)) for user, ids in by_user.items()]
    for start in range(0, len(requests), CHUNK):
        await store.ack_many(requests[start:start + CHUNK])
    for key in names.keys.persist_streams:  # the persister stored and trimmed them
        await redis.delete(key)
    after = await _used(redis)
    count = len(notes)
    return {"pending_bytes": round((pending - before) / count, 1),
            "after_ack_bytes": round((after - before) / count, 1)}


async def _channel_bytes(redis: Redis, names: Names, users: int) -> float:
    before = await _used(redis)
    pubsub = redis.pubsub()
    channels = [names.keys.live_channel("default", f"user-{u}") for u in range(users)]
    for start in range(0, users, CHUNK):
        await pubsub.subscribe(*channels[start:start + CHUNK])
    # let Redis answer every subscription before it is measured
    deadline = time.monotonic() + 30
    confirmed = 0
    while confirmed < users and time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message.get("type") == "subscribe":
            confirmed += 1
    used = await _used(redis)
    await pubsub.aclose()
    return round((used - before) / users, 1)


async def _row_bytes(workdir: Path, notes: list[Notification]) -> float:
    path = workdir / f"store-{len(notes)}-{time.monotonic_ns()}.db"
    store = await open_store(f"sqlite:///{path}")
    empty = path.stat().st_size
    now_ms = int(time.time() * 1000)
    for start in range(0, len(notes), CHUNK):
        await store.upsert_rows([make_row(n, Status.ACKED.value, now_ms)
                                 for n in notes[start:start + CHUNK]])
    await store.close()  # checkpoints the WAL into the file
    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    return round((size - empty) / len(notes), 1)


async def run_capacity(opts: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in str(opts.sizes).split(",") if s]
    count, per_user = opts.notifications, opts.pending_per_user
    names = Names("capbench")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="herald-capacity-") as tmp:
        workdir = Path(tmp)
        async with _own_redis(workdir) as redis:
            for size in sizes:
                notes = _notifications(count, size, per_user)
                json_bytes = sum(len(n.model_dump_json()) for n in notes) / count
                measured = await _pending_bytes(redis, names, notes)
                rows.append({"size": size, "json_bytes": round(json_bytes, 1), **measured,
                             "store_row_bytes": await _row_bytes(workdir, notes)})
            await redis.flushall()
            channel = await _channel_bytes(redis, names, opts.capacity_users)
    sizing = {
        f"{row['size']}": round(row["pending_bytes"] * 1_000_000 / 2**30, 2) for row in rows}
    return {"scenario": "capacity", "notifications": count, "per_user": per_user,
            "sizes": rows, "redis_bytes_per_connected_user": channel,
            "gib_per_million_pending": sizing}
