"""Admission at the door: who is calling the ingest API, and may they send this much now.

The caller is the principal the door let in (:mod:`producer.door`): its bucket is its key id,
its limits its tenant's (``RATE_LIMIT_PER_SECOND``/``RATE_LIMIT_BURST`` where the tenant has
none). In ``AUTH_MODE=trusted`` without a key there is no principal, and the bucket is a
stand-in (:func:`stand_in_key`): the SHA-256 of the ``X-API-Key`` header or of the
``Authorization: Bearer`` credential if there is one (the secret itself is never stored,
logged or sent to Redis), else the client's address.

Each call charges its cost (one per event; a batch its number of events) to the caller's token
bucket (:mod:`producer.ingest.rate_limit`). Over the limit → ``429 rate_limited`` with
``Retry-After`` and the ``RateLimit``/``RateLimit-Policy`` fields; a batch larger than the whole
burst can never pass and is ``422 batch_too_large`` instead (waiting would not help).

Redis down or slow → **fail open**: the call goes through without rate-limit fields, counted in
``herald_ingest_rate_limit_errors_total`` and logged as a warning (at most every 10 s). The
limit protects capacity, not durability — a ``202`` still means RabbitMQ confirmed the event —
so an outage of the limiter's store must not stop ingest. For ``SKIP_SECONDS`` after a failure
the limiter does not ask Redis at all (every call would otherwise wait out the deadline while
Redis hangs); those calls are counted the same way. The consumer's per-actor limit stays in
force behind it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import Scope

from common.logs import get_logger
from common.naming import Names
from producer.door import Principal
from producer.errors import HttpError
from producer.ingest.rate_limit import TokenBuckets, headers, window_seconds
from producer.metrics import RATE_LIMIT_ERRORS, RATE_LIMITED

__all__ = ["IngestLimiter", "stand_in_key"]

log = get_logger(__name__)

WARN_EVERY_SECONDS = 10.0
SKIP_SECONDS = 1.0
NO_HEADERS: Mapping[str, str] = {}


def stand_in_key(scope: Scope) -> str:
    """The bucket's key id for a request: ``key:<sha256 prefix>`` of its API key or bearer
    credential, else ``addr:<client address>`` (``addr:unknown`` without one)."""
    credential = b""
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key" and value:
            credential = value
            break
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                credential = token.strip()
    if credential:
        return "key:" + hashlib.sha256(credential).hexdigest()[:32]
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


class IngestLimiter:
    """Charges calls to token buckets; ``rate`` 0 turns the limit off (no Redis call)."""

    def __init__(self, redis: Redis, names: Names, rate: float, burst: int,
                 timeout_seconds: float = 0.5) -> None:
        self._buckets = TokenBuckets(redis, names.keys, timeout_seconds)
        self.rate = rate
        self.burst = burst
        self._warned_at = -WARN_EVERY_SECONDS
        self._skip_until = 0.0

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    async def admit_request(self, scope: Scope, cost: int,
                            principal: Principal | None = None) -> Mapping[str, str]:
        """:meth:`admit` for the caller of this request: the principal's key, with its
        tenant's limits (the limiter's where the tenant has none); without a principal
        (trusted mode), the stand-in key with the limiter's limits."""
        if principal is None:
            if not self.enabled:
                return NO_HEADERS
            return await self.admit(stand_in_key(scope), cost)
        if principal.rate is not None and principal.burst is not None:
            return await self.admit(principal.key_id, cost, tenant=principal.tenant_id,
                                    rate=principal.rate, burst=principal.burst)
        if not self.enabled:
            return NO_HEADERS
        return await self.admit(principal.key_id, cost, tenant=principal.tenant_id)

    async def admit(self, key_id: str, cost: int, *, tenant: str = "default",
                    rate: float | None = None, burst: int | None = None) -> Mapping[str, str]:
        """The rate-limit fields for an admitted call, or :class:`HttpError` 429 (422 for a
        batch over the burst). ``rate``/``burst`` default to the limiter's settings."""
        rate = self.rate if rate is None else rate
        burst = self.burst if burst is None else burst
        if rate <= 0 or burst <= 0:
            return NO_HEADERS
        if cost > burst:
            raise HttpError(
                422, "batch_too_large",
                f"at most {burst} events per call under this key's rate limit",
                [{"field": "events", "message": f"{cost} given; split the batch"}],
                headers={"RateLimit-Policy":
                         f'"default";q={burst};w={window_seconds(rate, burst)}'},
            )
        if time.monotonic() < self._skip_until:
            RATE_LIMIT_ERRORS.inc()
            return NO_HEADERS
        try:
            decision = await self._buckets.take(key_id, rate, burst, cost)
        except (RedisError, OSError, TimeoutError) as exc:  # fail open: see the docstring
            RATE_LIMIT_ERRORS.inc()
            now = time.monotonic()
            self._skip_until = now + SKIP_SECONDS
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning("rate limit not checked (Redis did not answer); letting calls in",
                            error=f"{type(exc).__name__}: {exc}"[:200])
            return NO_HEADERS
        fields = headers(decision)
        if not decision.allowed:
            RATE_LIMITED.labels(tenant).inc()
            raise HttpError(
                429, "rate_limited",
                f"over the rate limit of {rate:g} events/s (burst {burst}); "
                f"retry in {decision.retry_after} s",
                [{"field": "events", "message": f"this call costs {cost}, "
                  f"{decision.remaining} left"}],
                headers=fields,
            )
        return fields
