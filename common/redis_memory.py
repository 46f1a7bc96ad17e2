"""Redis's memory as Herald needs to see it: how full, and whether Redis would evict.

The buffer holds every notification not yet acknowledged, and nothing else has it: a key that
Redis evicts is a notification lost without a trace. So:

* a Redis whose ``maxmemory-policy`` evicts (anything but ``noeviction``) is refused at start
  by every service (:func:`refusal`), unless the operator says otherwise
  (``HERALD_REDIS_ALLOW_EVICTION=true``, at the cost of losing what Redis evicts);
* with ``noeviction``, a full Redis refuses writes instead: the consumer stops taking events at
  a high-water mark below ``maxmemory`` and resumes at a low-water mark (:class:`Watermark`),
  so there is always room left for the ways out of the buffer (ACK, expiry, erasure);
* ``/readyz`` and the console show the state (:meth:`MemoryState.as_dict`).

The state is read with ``INFO memory``, which managed Redis services answer even where they
disable ``CONFIG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

__all__ = [
    "NO_EVICTION",
    "MemoryState",
    "Watermark",
    "parse_memory_info",
    "read_memory",
    "refusal",
]

NO_EVICTION = "noeviction"
ALLOW_SETTING = "HERALD_REDIS_ALLOW_EVICTION"


@dataclass(frozen=True, slots=True)
class MemoryState:
    """``used`` and ``limit`` (``maxmemory``; 0: none) in bytes, and ``policy``."""

    used: int
    limit: int
    policy: str

    @property
    def fraction(self) -> float:
        """How full Redis is, of its ``maxmemory`` (0.0 when it has none)."""
        return self.used / self.limit if self.limit > 0 else 0.0

    @property
    def evicting(self) -> bool:
        return self.policy != NO_EVICTION

    def as_dict(self) -> dict[str, Any]:
        return {"usedBytes": self.used, "maxBytes": self.limit, "policy": self.policy,
                "fraction": round(self.fraction, 4)}


def parse_memory_info(info: Mapping[str, Any]) -> MemoryState:
    """The state from ``INFO memory``'s fields; missing ones read as 0 / ``noeviction``."""
    def number(name: str) -> int:
        try:
            return int(info.get(name) or 0)
        except (TypeError, ValueError):
            return 0

    policy = info.get("maxmemory_policy") or NO_EVICTION
    if isinstance(policy, bytes):
        policy = policy.decode()
    return MemoryState(number("used_memory"), number("maxmemory"), str(policy))


async def read_memory(redis: Redis) -> MemoryState:
    """``INFO memory`` of ``redis``; raises what redis-py raises when it does not answer."""
    info: dict[str, Any] = await redis.info("memory")
    return parse_memory_info(info)


def refusal(state: MemoryState, *, allow_eviction: bool) -> str | None:
    """Why a service must not start on this Redis, or ``None`` if it may."""
    if not state.evicting or allow_eviction:
        return None
    return (
        f"Redis's maxmemory-policy is {state.policy}: when it fills up it would evict "
        "buffered notifications, which are then lost without a record. Set "
        "maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in "
        "redis.conf or your provider's settings); Herald then stops taking events before "
        f"Redis is full. To run on this Redis anyway, accepting the loss, set {ALLOW_SETTING}"
        "=true."
    )


class Watermark:
    """Hysteresis between two fractions of ``maxmemory``: :meth:`update` says whether to
    hold back (at or above ``high``), and keeps saying so until the fraction is at or below
    ``low``. Pure: the caller reads the memory and acts on the answer."""

    def __init__(self, high: float, low: float) -> None:
        if not 0.0 < low < high <= 1.0:
            raise ValueError(f"need 0 < low < high <= 1, got low={low} high={high}")
        self.high = high
        self.low = low
        self.holding = False

    def update(self, state: MemoryState) -> bool:
        """Feed a reading; ``True`` while the caller should hold back. A Redis without a
        ``maxmemory`` never holds back (it grows until the machine's memory runs out, which
        no watermark can see)."""
        fraction = state.fraction
        if self.holding:
            self.holding = fraction > self.low
        else:
            self.holding = state.limit > 0 and fraction >= self.high
        return self.holding
