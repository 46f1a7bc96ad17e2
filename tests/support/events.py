"""Building event bodies and reading what the consumer buffered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from common.models import Event
from common.naming import Names
from tests.support.replies import text
from tests.support.timing import eventually

__all__ = ["actor_window_over", "buffered", "event_body", "total_buffered"]


def event_body(event_id: str, **over: Any) -> bytes:
    """A LIKE from alice to bob, of a post of its own (``p-<event id>``: likes of one post
    join one digest, so tests of anything else keep them apart)."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {"eventId": event_id, "type": "LIKE", "actorId": "alice",
                            "recipients": ["bob"], "postId": f"p-{event_id}",
                            "occurredAt": now, "acceptedAt": now}
    body.update(over)
    return Event.model_validate(body).model_dump_json().encode()


async def buffered(redis: Redis, names: Names, user: str, tenant: str = "default"
                   ) -> dict[str, dict[str, Any]]:
    """The user's pending notifications, by id."""
    raw = await redis.hgetall(names.keys.pending_hash(tenant, user))
    return {text(k): orjson.loads(v) for k, v in raw.items()}


async def total_buffered(redis: Redis, names: Names, users: list[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for user in users:
            pipe.hlen(names.keys.pending_hash("default", user))
        counts = await pipe.execute()
    return sum(counts)


async def actor_window_over(redis: Redis, names: Names, actor: str, tenant: str = "default",
                            timeout: float = 10.0) -> None:
    """Wait until the consumer's rate-limit window of ``actor`` holds no admission: its log
    key expires ``RATE_LIMIT_WINDOW_SECONDS`` after the last one (admit.lua, on Redis's own
    clock), so the next event of the actor is admitted. Waiting for that, not a fixed sleep
    past the window, keeps a slow machine from failing and a fast one from waiting."""
    key = names.keys.rate_limit_key(tenant, actor)
    await eventually(lambda: redis.exists(key), lambda found: found == 0, timeout=timeout)
