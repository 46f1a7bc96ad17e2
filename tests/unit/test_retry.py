"""common/retry.py: the one retry loop of every service."""

from __future__ import annotations

import asyncio

import pytest

from common.retry import ATTEMPTS_WHILE_STOPPING, GaveUp, Retrier
from tests.support.timing import eventually

pytestmark = pytest.mark.unit


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return "done"


async def test_retries_until_it_succeeds_and_counts_each_retry() -> None:
    seen: list[tuple[str, str]] = []
    retrier = Retrier(maximum_delay=0.01, initial_delay=0.001,
                      on_retry=lambda op, exc: seen.append((op, str(exc))))
    flaky = Flaky(3)
    assert await retrier.run("op", flaky, (ConnectionError,)) == "done"
    assert flaky.calls == 4
    assert seen == [("op", "failure 1"), ("op", "failure 2"), ("op", "failure 3")]


async def test_an_error_it_was_not_told_to_retry_goes_through_at_once() -> None:
    flaky = Flaky(1, ValueError)
    with pytest.raises(ValueError, match="failure 1"):
        await Retrier(maximum_delay=0.01).run("op", flaky, (ConnectionError,))
    assert flaky.calls == 1


async def test_once_stopping_it_gives_up_after_a_few_attempts_without_waiting() -> None:
    stop = asyncio.Event()
    stop.set()
    flaky = Flaky(1000)
    retrier = Retrier(stop, maximum_delay=3600.0, initial_delay=3600.0)  # waits would hang
    with pytest.raises(GaveUp):
        await asyncio.wait_for(retrier.run("op", flaky), 30)
    assert flaky.calls == ATTEMPTS_WHILE_STOPPING


async def test_a_stop_during_a_wait_cuts_the_wait_short() -> None:
    stop = asyncio.Event()
    flaky = Flaky(1000)
    retrier = Retrier(stop, maximum_delay=3600.0, initial_delay=3600.0)
    running = asyncio.create_task(retrier.run("op", flaky))
    await eventually(lambda: asyncio.sleep(0, flaky.calls), lambda calls: calls >= 1,
                     interval=0.01)  # the first attempt failed: the retrier now waits an hour
    stop.set()
    with pytest.raises(GaveUp):
        await asyncio.wait_for(running, 30)
    assert flaky.calls == 1 + ATTEMPTS_WHILE_STOPPING  # the one before the stop, then the few
