"""Frames per second out of one gateway process.

``--users`` users with ``--per-user`` connections each sit on one gateway; the tool
publishes ``--fanout-rate`` notifications per second for ``--duration`` seconds straight to
the users' live channels in Redis (what the consumer does last), round robin, so the
gateway has to send ``rate * per-user`` frames per second. The consumer and the producer are
not involved: this isolates the gateway (pub/sub in, JSON id lookup, per-connection queues,
websocket writes).

Measured: frames received per second by the clients during the publishing window, frames
missing once publishing has stopped and ``--deadline`` has passed, connections the gateway
closed (1013 = a client read too slowly), and the gateway's own count of frames sent. The
clients only count frames (no JSON parsing), yet they run in this one Python process: when
``load-tool`` shows ~100 % CPU, the figure is the tool's ceiling, not the gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.clients import close_all, open_clients
from bench.procstat import ProcSampler
from bench.stack import REDIS_URL
from bench.target import counter_sum, open_target

__all__ = ["run_fanout"]

TICK = 0.01


class Frames:
    def __init__(self) -> None:
        self.count = 0
        self.expected = -1
        self.all_in = asyncio.Event()
        self.closes: Counter[str] = Counter()


async def _count(ws: ClientConnection, frames: Frames) -> None:
    try:
        async for _ in ws:
            frames.count += 1
            if frames.count >= frames.expected >= 0:
                frames.all_in.set()
    except ConnectionClosed as exc:
        frames.closes[str(exc.rcvd.code if exc.rcvd else "none")] += 1


def _body(run: str, i: int, user: str, stamp: str, expires: str) -> bytes:
    return orjson.dumps({
        "id": f"f{run}-{i:09d}", "tenantId": "default", "userId": user, "type": "LIKE",
        "actorId": "bench-actor", "eventId": f"f{run}-{i:09d}", "postId": "p1",
        "commentId": None, "message": "bench-actor liked your post", "priority": "promotional",
        "createdAt": stamp, "expiresAt": expires})


async def _publish(channels: list[str], users: list[str], rate: float,
                   duration: float) -> int:
    """Open loop: every 10 ms, the notifications now due, in one pipeline."""
    run = secrets.token_hex(3)
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expires = (now + timedelta(days=1)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
    total = int(rate * duration)
    redis = Redis.from_url(REDIS_URL)
    sent = 0
    start = time.perf_counter()
    try:
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            if due > sent:
                async with redis.pipeline(transaction=False) as pipe:
                    for i in range(sent, due):
                        n = i % len(channels)
                        pipe.publish(channels[n], _body(run, i, users[n], stamp, expires))
                    await pipe.execute()
                sent = due
            if time.perf_counter() - start > duration * 2:
                break  # the tool cannot keep the rate; stop at twice the planned time
            await asyncio.sleep(TICK)
    finally:
        await redis.aclose()
    return sent


async def run_fanout(opts: argparse.Namespace) -> dict[str, Any]:
    if opts.producer_url or opts.ws_url or opts.protocol != "herald":
        raise SystemExit("fanout: publishes to Herald's Redis channels; it starts its own")
    async with open_target(opts, ("ws_gateway",)) as target:
        assert target.stack is not None
        assert target.ws_url is not None
        names = target.stack.names
        users = [f"f{secrets.token_hex(2)}-{n}" for n in range(opts.users)]
        logins = [u for u in users for _ in range(opts.per_user)]
        clients, errors = await open_clients(target.ws_endpoint(), target.protocol, logins,
                                             target.secret)
        if errors:
            raise RuntimeError(f"{len(errors)} clients failed to AUTH, e.g. {errors[0]}")
        frames = Frames()
        readers = [asyncio.create_task(_count(ws, frames)) for ws in clients]
        channels = [names.keys.live_channel("default", u) for u in users]
        async with ProcSampler(target.pids()) as sampler:
            started = time.perf_counter()
            published = await _publish(channels, users, opts.fanout_rate, opts.duration)
            window = time.perf_counter() - started
            in_window = frames.count
            expected = frames.expected = published * opts.per_user
            if frames.count >= expected:
                frames.all_in.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(frames.all_in.wait(), opts.deadline)
            drained = time.perf_counter() - started
        sent_by_gateway = await counter_sum(target.stack.url("ws_gateway"),
                                            "herald_gateway_notifications_sent_total")
        await close_all(clients)
        _, stuck = await asyncio.wait(readers, timeout=20)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    frames_per_s = round(frames.count / max(drained, 1e-9), 1)
    return {
        "scenario": "fanout", "protocol": "herald",
        "params": {"users": opts.users, "per_user": opts.per_user, "rate": opts.fanout_rate,
                   "duration": opts.duration},
        "published": published, "publish_s": round(window, 2),
        "frames_expected": expected, "frames_received": frames.count,
        "frames_in_publish_window": in_window, "until_all_received_s": round(drained, 2),
        "missing": expected - frames.count, "gateway_sent": int(sent_by_gateway),
        "client_closes": dict(frames.closes),
        "frames_per_s": frames_per_s,
        "headline": {"frames/s": frames_per_s, "missing": expected - frames.count},
        "target": "≥ 50,000 frames/s out of one gateway process",
        "procstat": sampler.report(),
    }
