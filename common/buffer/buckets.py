"""The ingest API's token buckets in Redis (``take.lua``): one hash per API key, read,
refilled, charged and written by one script, so concurrent producers never both spend the
same token. The arithmetic's Python twin, the decision and the HTTP headers are the
producer's (:mod:`producer.rate_limit`); this owns the key and the script."""

from __future__ import annotations

from redis.asyncio import Redis

from common.buffer.keys import BufferKeys
from common.buffer.scripts import TAKE, call
from common.redis_pool import as_text

__all__ = ["IngestBuckets"]


class IngestBuckets:
    def __init__(self, redis: Redis, keys: BufferKeys, timeout_seconds: float = 0.5) -> None:
        self._redis = redis
        self._keys = keys
        self._timeout = timeout_seconds

    async def take(self, key_id: str, rate: float, burst: int, cost: int) -> tuple[bool, float]:
        """``(allowed, tokens left)`` after charging ``cost`` to ``key_id``'s bucket, in one
        round trip (two after Redis lost its scripts). Raises on a Redis error or past the
        deadline; nothing is charged then, or the charge stands without an answer."""
        allowed, tokens = await call(self._redis, TAKE, [self._keys.ingest_bucket(key_id)],
                                     [repr(float(rate)), burst, cost], self._timeout)
        return bool(int(allowed)), float(as_text(tokens))
