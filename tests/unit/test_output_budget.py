"""The budget of one connection's output and pings, on a clock passed in."""

from __future__ import annotations

import pytest

from ws_gateway.output_budget import HARD_LIMIT_FACTOR, PING_BURST, PINGS_PER_SECOND, OutputBudget

pytestmark = pytest.mark.unit


def test_output_over_the_limit_pauses_reading_and_a_stall_is_cut_off() -> None:
    budget = OutputBudget(write_buffer_bytes=1000, stall_seconds=10.0)
    assert not budget.output_full
    assert budget.output_over_limit(now=5.0) == 15.0
    assert budget.output_full
    assert budget.output_over_limit(now=7.0) == 15.0  # the clock runs from the first time
    assert not budget.stalled(14.9)
    assert budget.stalled(15.0)


def test_output_drained_stops_the_stall_clock_and_resumes_reading() -> None:
    budget = OutputBudget(1000, 10.0)
    budget.output_over_limit(0.0)
    budget.output_drained()
    assert not budget.output_full
    assert not budget.stalled(100.0)
    assert budget.output_over_limit(100.0) == 110.0  # a new clock


def test_output_over_the_hard_limit_is_cut_off_at_once() -> None:
    budget = OutputBudget(1000, 10.0)
    assert not budget.over_limit(1000 * HARD_LIMIT_FACTOR)
    assert budget.over_limit(1000 * HARD_LIMIT_FACTOR + 1)


def test_a_burst_of_pings_is_allowed_once_and_more_is_a_flood() -> None:
    budget = OutputBudget(1000, 10.0)
    assert all(budget.ping_allowed(0.0) for _ in range(PING_BURST))
    assert not budget.ping_allowed(0.0)


def test_pings_refill_at_their_rate() -> None:
    budget = OutputBudget(1000, 10.0)
    for _ in range(PING_BURST):
        budget.ping_allowed(0.0)
    assert budget.ping_allowed(1.0 / PINGS_PER_SECOND)
    assert not budget.ping_allowed(1.0 / PINGS_PER_SECOND)


def test_keepalive_pings_never_run_out() -> None:
    budget = OutputBudget(1000, 10.0)
    assert all(budget.ping_allowed(t * 1.0) for t in range(10_000))
