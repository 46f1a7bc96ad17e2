"""The configuration cache (common.config_cache): fresh for ttl seconds, forgotten on a
write, bounded, one read per tenant at a time; the clock is the test's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from common.catalog import TenantConfig, TypeDef
from common.config_cache import MAX_USERS_PER_READ, ConfigCache
from common.preferences import UserSettings

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A store's two reads, counted; ``gate`` holds tenant reads until set."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, TypeDef]] = {}
        self.settings: dict[tuple[str, str], UserSettings] = {}
        self.tenant_reads: list[str] = []
        self.user_reads: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        self.tenant_reads.append(tenant_id)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("store away")
        return TenantConfig(tenant_id, dict(self.types.get(tenant_id, {})))

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        assert len(user_ids) <= MAX_USERS_PER_READ
        self.user_reads.append(list(user_ids))
        return {u: self.settings[(tenant_id, u)] for u in user_ids
                if (tenant_id, u) in self.settings}


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_tenant_is_read_once_per_ttl(source: Source, clock: Clock) -> None:
    cache = ConfigCache(source, ttl_seconds=2, clock=clock)
    source.types["t1"] = {"a": TypeDef("a")}
    assert (await cache.tenant("t1")).type_of("a") == TypeDef("a")
    source.types["t1"] = {"b": TypeDef("b")}
    clock.now += 1.9
    assert (await cache.tenant("t1")).type_of("b") is None  # still the cached one
    clock.now += 0.1
    assert (await cache.tenant("t1")).type_of("b") == TypeDef("b")
    assert source.tenant_reads == ["t1", "t1"]


async def test_forget_makes_the_next_read_go_to_the_store(source: Source, clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock)
    await cache.tenant("t1")
    await cache.users("t1", ["u1"])
    source.types["t1"] = {"b": TypeDef("b")}
    source.settings[("t1", "u1")] = UserSettings(locale="de")
    cache.forget("t1")
    assert (await cache.tenant("t1")).type_of("b") is not None
    assert await cache.users("t1", ["u1"]) == {}  # the user was not forgotten
    cache.forget("t1", "u1")
    assert await cache.users("t1", ["u1"]) == {"u1": UserSettings(locale="de")}
    assert source.tenant_reads == ["t1", "t1"]


async def test_a_read_under_way_during_a_forget_is_not_kept(source: Source,
                                                            clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock)
    source.gate = asyncio.Event()
    reading = asyncio.create_task(cache.tenant("t1"))
    for _ in range(10):  # until the store is being read
        if source.tenant_reads:
            break
        await asyncio.sleep(0)
    assert source.tenant_reads == ["t1"]
    source.types["t1"] = {"new": TypeDef("new")}  # written after the read began...
    cache.forget("t1")  # ...and forgotten
    source.gate.set()
    await reading
    assert (await cache.tenant("t1")).type_of("new") is not None
    assert len(source.tenant_reads) == 2


async def test_concurrent_callers_share_one_tenant_read(source: Source, clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock)
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.tenant("t1")) for _ in range(50)]
    await asyncio.sleep(0)
    source.gate.set()
    configs = await asyncio.gather(*waiting)
    assert len({id(c) for c in configs}) == 1
    assert source.tenant_reads == ["t1"]


async def test_a_failed_read_raises_to_every_caller_and_is_not_kept(source: Source,
                                                                    clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock)
    source.fail = True
    with pytest.raises(ConnectionError):
        await cache.tenant("t1")
    source.fail = False
    assert (await cache.tenant("t1")).tenant_id == "t1"


async def test_users_are_read_only_when_missing_and_absent_ones_are_cached(
    source: Source, clock: Clock,
) -> None:
    cache = ConfigCache(source, ttl_seconds=2, clock=clock)
    source.settings[("t1", "u1")] = UserSettings(locale="de")
    assert await cache.users("t1", ["u1", "u2", "u1"]) == {"u1": UserSettings(locale="de")}
    assert await cache.users("t1", ["u1", "u2", "u3"]) == {"u1": UserSettings(locale="de")}
    assert source.user_reads == [["u1", "u2"], ["u3"]]
    assert await cache.users("t2", ["u1"]) == {}  # another tenant's u1
    clock.now += 2
    await cache.users("t1", ["u1", "u2"])
    assert source.user_reads[-1] == ["u1", "u2"]


async def test_many_users_are_read_in_bounded_batches(source: Source, clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock, max_users=10_000)
    ids = [f"u{i}" for i in range(MAX_USERS_PER_READ * 2 + 5)]
    assert await cache.users("t1", ids) == {}
    assert [len(r) for r in source.user_reads] == [MAX_USERS_PER_READ, MAX_USERS_PER_READ, 5]


async def test_the_cache_is_bounded_least_recently_used_first(source: Source,
                                                              clock: Clock) -> None:
    cache = ConfigCache(source, clock=clock, max_users=3, max_tenants=2)
    await cache.users("t1", ["a", "b", "c"])
    await cache.users("t1", ["a"])  # a used again: b is now the oldest
    await cache.users("t1", ["d"])
    assert cache.sizes()[1] == 3
    source.user_reads.clear()
    await cache.users("t1", ["a", "b", "c", "d"])
    assert source.user_reads == [["b"]]
    for tenant in ("t1", "t2", "t3"):
        await cache.tenant(tenant)
    assert cache.sizes()[0] == 2
    await cache.tenant("t1")
    assert source.tenant_reads == ["t1", "t2", "t3", "t1"]


async def test_ttl_zero_reads_every_time(source: Source, clock: Clock) -> None:
    cache = ConfigCache(source, ttl_seconds=0, clock=clock)
    await cache.tenant("t1")
    await cache.tenant("t1")
    assert source.tenant_reads == ["t1", "t1"]
    with pytest.raises(ValueError, match="ttl_seconds"):
        ConfigCache(source, ttl_seconds=-1)
    with pytest.raises(ValueError, match="at least one"):
        ConfigCache(source, max_users=0)
