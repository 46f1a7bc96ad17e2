"""One timing constant for the whole suite: every wait scales by HERALD_TEST_TIMEOUT_FACTOR,
so a slow machine makes the suite slower, not flaky."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["FACTOR", "eventually", "scaled"]

FACTOR = float(os.environ.get("HERALD_TEST_TIMEOUT_FACTOR", "1"))
T = TypeVar("T")


def scaled(seconds: float) -> float:
    return seconds * FACTOR


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    timeout: float = 10.0,
    interval: float = 0.05,
) -> T:
    """Poll ``probe`` until ``until(value)`` holds; fail with the last value otherwise."""
    deadline = time.monotonic() + scaled(timeout)
    value = await probe()
    while not until(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {scaled(timeout)} s; last: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value
