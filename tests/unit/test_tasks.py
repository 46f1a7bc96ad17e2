"""common.tasks.Periodic: the loop goes on after a failed turn, stop cancels then runs the
final turn once, and a loop never started has nothing to finish."""

from __future__ import annotations

import asyncio

import pytest

from common.tasks import Periodic

pytestmark = pytest.mark.unit


async def test_a_failed_turn_does_not_end_the_loop_and_stop_runs_final_once() -> None:
    turns: list[int] = []
    finals: list[int] = []

    async def turn() -> None:
        turns.append(1)
        if len(turns) == 1:
            raise ConnectionError("redis away")

    async def final() -> None:
        finals.append(1)

    loop = Periodic("test", 0.001, turn, final=final, final_timeout=1.0)
    loop.start()
    assert loop.running
    for _ in range(1000):
        if len(turns) >= 3:
            break
        await asyncio.sleep(0.001)
    await loop.stop()
    assert len(turns) >= 3
    assert finals == [1]
    assert not loop.running
    await loop.stop()  # a second stop does nothing
    assert finals == [1]


async def test_a_failing_final_is_swallowed_and_an_unstarted_loop_has_no_final() -> None:
    async def turn() -> None:
        return None

    async def final() -> None:
        raise ConnectionError("redis away")

    never = Periodic("never", 1.0, turn, final=final)
    await never.stop()
    started = Periodic("started", 60.0, turn, final=final, wait_first=True)
    started.start()
    await started.stop()
