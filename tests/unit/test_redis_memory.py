"""The pure part of Redis's memory state: parsing INFO, the start refusal, the watermark."""

from __future__ import annotations

import pytest

from common.redis_memory import MemoryState, Watermark, parse_memory_info, refusal

pytestmark = pytest.mark.unit

MB = 1024 * 1024


def test_info_fields_are_parsed_and_missing_ones_are_safe_defaults() -> None:
    state = parse_memory_info({"used_memory": "1048576", "maxmemory": 4 * MB,
                               "maxmemory_policy": b"volatile-lru"})
    assert state == MemoryState(MB, 4 * MB, "volatile-lru")
    assert state.fraction == 0.25
    assert state.evicting
    assert parse_memory_info({}) == MemoryState(0, 0, "noeviction")
    assert parse_memory_info({"used_memory": "x"}).used == 0
    assert MemoryState(5, 0, "noeviction").fraction == 0.0


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random",
                                    "volatile-lru", "volatile-lfu", "volatile-random",
                                    "volatile-ttl"])
def test_an_evicting_policy_is_refused_naming_the_setting(policy: str) -> None:
    message = refusal(MemoryState(0, 40 * MB, policy), allow_eviction=False)
    assert message is not None
    assert policy in message
    assert "maxmemory-policy noeviction" in message
    assert "HERALD_REDIS_ALLOW_EVICTION=true" in message
    assert refusal(MemoryState(0, 40 * MB, policy), allow_eviction=True) is None


def test_noeviction_is_accepted() -> None:
    assert refusal(MemoryState(0, 40 * MB, "noeviction"), allow_eviction=False) is None


def test_the_watermark_holds_back_from_high_until_low() -> None:
    mark = Watermark(high=0.8, low=0.6)
    seen = [mark.update(MemoryState(int(f * 100), 100, "noeviction"))
            for f in (0.5, 0.79, 0.8, 0.9, 0.7, 0.61, 0.6, 0.7, 0.79, 0.85)]
    assert seen == [False, False, True, True, True, True, False, False, False, True]


def test_without_maxmemory_the_watermark_never_holds_back() -> None:
    mark = Watermark(high=0.8, low=0.6)
    assert not mark.update(MemoryState(10**12, 0, "noeviction"))


@pytest.mark.parametrize(("high", "low"), [(0.5, 0.5), (0.5, 0.6), (1.1, 0.5), (0.5, 0.0)])
def test_a_watermark_needs_low_below_high(high: float, low: float) -> None:
    with pytest.raises(ValueError, match="low"):
        Watermark(high=high, low=low)
