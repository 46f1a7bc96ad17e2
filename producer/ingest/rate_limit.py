"""Token buckets at the door: how many events one API key may send, shared by every producer.

Each key has a bucket of ``burst`` tokens that refills at ``rate`` tokens per second; an event
costs one token (a batch costs its number of events). The bucket lives in Redis as one hash
and is read, refilled, charged and written by one Lua script, so concurrent calls from any
number of producer replicas never both spend the same token; the key and the script are the
buffer owner's (:class:`common.buffer.buckets.IngestBuckets`, ``take.lua``: it reads Redis's
clock, so replicas with skewed clocks share one timeline, and touches one key, one slot).

The arithmetic is here (:func:`refill`/:func:`charge`, pure, unit-tested) and in that script,
which applies the same steps atomically. :func:`headers` turns a decision into the
answer's fields, after draft-ietf-httpapi-ratelimit-headers-11 (May 2026):

* ``RateLimit-Policy: "default";q=<burst>;w=<seconds for an empty bucket to fill>``
* ``RateLimit: "default";r=<whole tokens left>;t=<seconds>`` where ``t`` is how long until the
  bucket is full again on an accepted call, and the ``Retry-After`` value on a refused one
  (the draft: ``Retry-After`` should not point earlier than the end of the effective window).
* ``Retry-After: <seconds>`` (integer, at least 1) on a refused call only: when the bucket will
  hold the call's cost again.

Failures: :meth:`TokenBuckets.take` raises what redis-py raises (``ConnectionError``,
``TimeoutError``) or ``TimeoutError`` past its deadline; whether to refuse or let the call
through is the caller's choice (:mod:`producer.ingest.admission`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from common.buffer.buckets import IngestBuckets
from common.buffer.keys import BufferKeys

__all__ = [
    "POLICY_NAME",
    "Decision",
    "TokenBuckets",
    "charge",
    "decide",
    "headers",
    "refill",
    "window_seconds",
]

POLICY_NAME = "default"
"""The one quota policy the producer advertises (the draft's policy item name)."""


def refill(tokens: float, elapsed_seconds: float, rate: float, burst: int) -> float:
    """Tokens after ``elapsed_seconds`` at ``rate`` per second, never above ``burst``. A clock
    that went backwards (negative elapsed) adds nothing."""
    return min(float(burst), tokens + max(0.0, elapsed_seconds) * rate)


def charge(tokens: float, cost: int) -> tuple[bool, float]:
    """``(allowed, tokens left)``: a call is allowed only if the bucket holds its whole cost;
    a refused call takes nothing."""
    if cost <= tokens:
        return True, tokens - cost
    return False, tokens


def window_seconds(rate: float, burst: int) -> int:
    """How long an empty bucket takes to fill (the policy's ``w``), whole seconds, ≥ 1."""
    return max(1, math.ceil(burst / rate))


@dataclass(frozen=True, slots=True)
class Decision:
    """One call's outcome. ``tokens`` is what the bucket holds after it (fractional)."""

    allowed: bool
    tokens: float
    cost: int
    rate: float
    burst: int

    @property
    def remaining(self) -> int:
        """Whole tokens left: the ``r`` the client is told."""
        return max(0, math.floor(self.tokens + 1e-9))

    @property
    def retry_after(self) -> int:
        """Seconds until the bucket holds this call's cost again, whole and ≥ 1 (for a refused
        call; an allowed one gets 0). A cost over the burst can never be met: the answer is
        then the time to fill the bucket, and the caller must split the call."""
        if self.allowed:
            return 0
        missing = min(self.cost, self.burst) - self.tokens
        return max(1, math.ceil(missing / self.rate - 1e-9))

    @property
    def reset(self) -> int:
        """Seconds until the bucket is full again (0 if it is)."""
        return max(0, math.ceil((self.burst - self.tokens) / self.rate - 1e-9))


def decide(tokens: float, elapsed_seconds: float, rate: float, burst: int, cost: int) -> Decision:
    """The pure bucket step the Lua script performs: refill, then charge."""
    allowed, left = charge(refill(tokens, elapsed_seconds, rate, burst), cost)
    return Decision(allowed, left, cost, rate, burst)


def headers(decision: Decision) -> dict[str, str]:
    """The response fields for a decision (see the module docstring for the draft version)."""
    window = window_seconds(decision.rate, decision.burst)
    fields = {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={decision.burst};w={window}',
    }
    if decision.allowed:
        fields["RateLimit"] = f'"{POLICY_NAME}";r={decision.remaining};t={decision.reset}'
    else:
        wait = decision.retry_after
        fields["RateLimit"] = f'"{POLICY_NAME}";r={decision.remaining};t={wait}'
        fields["Retry-After"] = str(wait)
    return fields


class TokenBuckets:
    """The buckets of every key, in Redis under ``names``."""

    def __init__(self, redis: Redis, names: BufferKeys, timeout_seconds: float = 0.5) -> None:
        self._buckets = IngestBuckets(redis, names, timeout_seconds)

    async def take(self, key_id: str, rate: float, burst: int, cost: int = 1) -> Decision:
        """Charge ``cost`` tokens to ``key_id``'s bucket, atomically, in one round trip (two
        after Redis lost its scripts: a restart). Raises on a Redis error or past the
        deadline; nothing is charged then, or the charge stands without an answer."""
        if rate <= 0 or burst < 1 or cost < 0:
            raise ValueError("rate must be > 0, burst ≥ 1, cost ≥ 0")
        allowed, tokens = await self._buckets.take(key_id, rate, burst, cost)
        return Decision(allowed, tokens, cost, rate, burst)
