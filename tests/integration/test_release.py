"""The consumer's release of held notifications (:mod:`consumer.release`) against the real
Redis, with a plain function standing in for the pipeline's ``make``: at most a batch per
turn, the earliest first, forgotten only after ``make`` returned; a transient failure
forgets nothing, a poison entry holds back only itself, a moved entry stays held, and the
loop drains a burst on its own. Time is passed in through the clock, never waited for
(except the loop's own turns, polled with ``eventually``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from common.buffer.held import HeldBuffer, HeldEntry, Hold
from common.naming import Names
from consumer.release import Make, Releaser
from tests.conftest import REDIS_URL
from tests.support.timing import eventually

pytestmark = pytest.mark.integration

T0 = 1_750_000_000_000


@pytest.fixture
async def raw() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def hold(box: HeldBuffer, count: int, release_ms: int = T0) -> list[str]:
    """``count`` held notifications of ``count`` users, due at ``release_ms`` + their index;
    their ids."""
    holds = [Hold("default", f"user{i}", f"n{i}", f'{{"eventId":"e{i}"}}', release_ms + i, 0)
             for i in range(count)]
    await box.hold(holds)
    return [h.notification_id for h in holds]


def releaser(box: HeldBuffer, make: Make, clock: Clock, batch: int = 10,
             holding: Callable[[], bool] = lambda: False) -> Releaser:
    return Releaser(box, make, batch=batch, interval_seconds=0.01, claim_seconds=60,
                    clock=clock, holding=holding)


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_a_turn_takes_at_most_a_batch_and_forgets_what_was_made(
    raw: Redis, names: Names,
) -> None:
    box = HeldBuffer(raw, names.keys)
    ids = await hold(box, 25)
    made: list[list[str]] = []

    async def make(entries: Sequence[HeldEntry]) -> None:
        made.append([e.notification_id for e in entries])

    clock = Clock(T0 + 100)
    loop = releaser(box, make, clock)
    before = sample("herald_consumer_released_total")
    assert await loop.turn() == 10
    assert await loop.turn() == 10
    assert await loop.turn() == 5
    assert await loop.turn() == 0
    assert made == [ids[:10], ids[10:20], ids[20:]]
    assert await box.count() == 0
    assert sample("herald_consumer_released_total") - before == 25
    assert sample("herald_consumer_held") == 0


async def test_nothing_is_released_before_its_time(raw: Redis, names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 3, release_ms=T0 + 1000)
    made: list[HeldEntry] = []

    async def make(entries: Sequence[HeldEntry]) -> None:
        made.extend(entries)

    clock = Clock(T0)
    loop = releaser(box, make, clock)
    assert await loop.turn() == 0
    assert sample("herald_consumer_held") == 3
    clock.now = T0 + 1001
    assert await loop.turn() == 2
    assert [e.notification_id for e in made] == ["n0", "n1"]


async def test_a_transient_failure_forgets_nothing_and_the_claims_lapse(
    raw: Redis, names: Names,
) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 3)
    calls: list[int] = []

    async def make(entries: Sequence[HeldEntry]) -> None:
        calls.append(len(entries))
        if len(calls) == 1:
            raise RedisConnectionError("redis away")

    clock = Clock(T0 + 10)
    loop = releaser(box, make, clock)
    with pytest.raises(RedisConnectionError):
        await loop.turn()
    assert await box.count() == 3
    assert await loop.turn() == 0  # still claimed
    clock.now += 60_000  # the claim lapsed
    assert await loop.turn() == 3
    assert calls == [3, 3]


async def test_a_poison_entry_holds_back_only_itself(raw: Redis, names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 4)
    made: list[str] = []

    async def make(entries: Sequence[HeldEntry]) -> None:
        if any(e.notification_id == "n2" for e in entries):
            raise ValueError("a bug meets n2")
        made.extend(e.notification_id for e in entries)

    loop = releaser(box, make, Clock(T0 + 10))
    assert await loop.turn() == 3
    assert made == ["n0", "n1", "n3"]
    assert [e.notification_id for e in await box.of_user("default", "user2")] == ["n2"]


async def test_an_entry_the_pipeline_moves_stays_held(raw: Redis, names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 2)

    async def make(entries: Sequence[HeldEntry]) -> None:
        # user1 is in (new) quiet hours again: the pipeline moves it an hour on
        await box.move([(e, T0 + 3_600_000) for e in entries if e.user_id == "user1"])

    loop = releaser(box, make, Clock(T0 + 10))
    assert await loop.turn() == 1
    assert [e.notification_id for e in await box.of_user("default", "user1")] == ["n1"]


async def test_no_turn_takes_anything_while_the_consumer_holds_back(
    raw: Redis, names: Names,
) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 2)
    holding = True

    async def make(entries: Sequence[HeldEntry]) -> None:
        pass

    loop = releaser(box, make, Clock(T0 + 10), holding=lambda: holding)
    assert await loop.turn() == 0
    assert sample("herald_consumer_held") == 2
    holding = False
    assert await loop.turn() == 2


async def test_the_loop_drains_a_burst_in_bounded_turns(raw: Redis, names: Names) -> None:
    box = HeldBuffer(raw, names.keys)
    await hold(box, 200)
    sizes: list[int] = []

    async def make(entries: Sequence[HeldEntry]) -> None:
        sizes.append(len(entries))

    loop = releaser(box, make, Clock(T0 + 1000), batch=30)
    loop.start()
    try:
        await eventually(box.count, lambda n: n == 0)
    finally:
        await loop.stop()
    assert sum(sizes) == 200
    assert max(sizes) == 30
