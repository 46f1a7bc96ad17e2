"""One Redis pub/sub connection per gateway process, fanned out to local connections.

A user's channel is subscribed while at least one of their connections is on this process.
:meth:`Hub.join` returns only after Redis confirmed the subscription, so a caller that then
reads the pending notifications cannot miss one published in between (the gap the seed had).
If the pub/sub connection breaks, the hub reconnects with backoff, subscribes again and asks
every member to replay, since anything published meanwhile was not received.

A live message is a notification's JSON, or ``{"inbox": {...}}`` (:mod:`common.inbox`: a mark
of the user's, announced with its ``seq`` and counts): made into one ``INBOX_STATE`` frame
(:func:`ws_gateway.protocol.inbox_state_frame`) and handed to every member of the channel. An
``INBOX_STATE`` lost while the pub/sub connection was down is not replayed: the next mark's
state supersedes it (its ``seq`` is higher).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from common.logs import get_logger
from common.redis_pool import as_text
from common.retry import Retrier
from ws_gateway.protocol import inbox_state_frame

__all__ = ["Hub", "Member"]

log = get_logger(__name__)


class Member(Protocol):
    def deliver(self, notification_id: str, notification_json: str,
                created_s: float | None = None, version: int = 1) -> None: ...

    def resync(self) -> None: ...

    def inbox(self, frame: str) -> None: ...


class Hub:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pubsub: PubSub = redis.pubsub()
        self._members: dict[str, set[Member]] = defaultdict(set)
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._resync_on_confirm: set[str] = set()
        self.connected = asyncio.Event()
        self._broken = False

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="hub-reader")

    async def join(self, channel: str, member: Member) -> None:
        async with self._lock:
            first = not self._members[channel]
            self._members[channel].add(member)
            if first:
                await self._subscribe(channel)

    async def leave(self, channel: str, member: Member) -> None:
        async with self._lock:
            members = self._members.get(channel)
            if members is None:
                return
            members.discard(member)
            if not members:
                del self._members[channel]
                try:
                    await self._pubsub.unsubscribe(channel)
                except RedisError as exc:  # the reconnect will not resubscribe it either
                    log.warning("unsubscribe failed", channel=channel, error=repr(exc))

    async def _subscribe(self, channel: str) -> None:
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            await self._pubsub.subscribe(channel)
            self._wake.set()
            await asyncio.wait_for(confirmed, 10)
        finally:
            self._confirmations.pop(channel, None)

    async def _read_forever(self) -> None:
        """Read until cancelled; a broken connection is made again by :meth:`_read_once`,
        retried with backoff (reset by every read that succeeds)."""
        retrier = Retrier(maximum_delay=2.0)
        while True:
            await retrier.run("pubsub", self._read_once)

    async def _read_once(self) -> None:
        try:
            if self._broken:
                await self._resubscribe()
                self._broken = False
            if not self._pubsub.subscribed:
                # Nothing to read until someone joins; join() wakes us up.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                return
            message = await self._pubsub.get_message(timeout=1.0)
            self.connected.set()
            if message is not None:
                self._dispatch(message)
        except Exception:  # RedisError, OSError, or a pubsub left unconnected
            self._broken = True
            self.connected.clear()
            raise

    async def _resubscribe(self) -> None:
        """A new pub/sub connection with every channel of this process; raises (and is
        retried) while Redis does not answer. As each subscription is confirmed, that
        channel's members replay what they missed (confirmed first, so nothing published in
        between can fall through)."""
        async with self._lock:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = self._redis.pubsub()
            channels = list(self._members)
            self._resync_on_confirm = set(channels)
            if channels:
                await self._pubsub.subscribe(*channels)
        log.info("pubsub reconnected", channels=len(channels))

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = as_text(message["channel"])
        kind = message["type"]
        if kind == "subscribe":
            confirmation = self._confirmations.get(channel)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)
            if channel in self._resync_on_confirm:
                self._resync_on_confirm.discard(channel)
                for member in list(self._members.get(channel, ())):
                    member.resync()
            return
        if kind != "message":
            return
        body = as_text(message["data"])
        try:
            fields = orjson.loads(body)
            if isinstance(fields, dict) and "inbox" in fields:
                self._inbox(channel, fields["inbox"])
                return
            notification_id = fields["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable live message dropped", channel=channel)
            return
        created_s = _epoch_seconds(fields.get("createdAt"))  # once per message, not per member
        version = fields.get("version")  # > 1: a digest's update (common/buffer/digest.py)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            version = 1
        for member in list(self._members.get(channel, ())):
            member.deliver(notification_id, body, created_s, version)

    def _inbox(self, channel: str, state: object) -> None:
        frame = inbox_state_frame(state)  # once per message, not per member
        if frame is None:
            log.warning("unreadable inbox state dropped", channel=channel)
            return
        for member in list(self._members.get(channel, ())):
            member.inbox(frame)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._pubsub.aclose()


def _epoch_seconds(value: object) -> float | None:
    """An ISO 8601 time as epoch seconds, or ``None`` if it is not one (no latency sample)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
