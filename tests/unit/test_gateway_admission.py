"""The gateway's admission counts (pure): limits per process, per address, and eviction of
the oldest connection still waiting for AUTH."""

from __future__ import annotations

import pytest

from ws_gateway.guard import Admission

pytestmark = pytest.mark.unit


def test_over_max_connections_is_refused_and_a_release_frees_a_slot() -> None:
    admission: Admission[str] = Admission(max_connections=2, max_unauthenticated=0)
    assert admission.admit("a", "h1") == (None, None)
    assert admission.admit("b", "h1") == (None, None)
    refused, evicted = admission.admit("c", "h1")
    assert refused is not None
    assert "full" in refused
    assert evicted is None
    admission.release("a", "h1")
    assert admission.admit("c", "h1") == (None, None)
    assert admission.total == 2


def test_the_oldest_unauthenticated_is_evicted_not_the_newcomer() -> None:
    admission: Admission[str] = Admission(max_connections=0, max_unauthenticated=2)
    admission.admit("a", "h")
    admission.admit("b", "h")
    assert admission.authenticated("b")
    admission.admit("c", "h")
    assert admission.admit("d", "h") == (None, "a")  # a, the oldest waiting, makes room
    assert not admission.authenticated("a")  # an evicted connection may not go on
    admission.release("a", "h")
    assert list(admission.waiting) == ["c", "d"]
    assert admission.total == 3


def test_per_address_limit_counts_each_address_alone() -> None:
    admission: Admission[int] = Admission(max_connections=0, max_unauthenticated=0,
                                          max_per_address=1)
    assert admission.admit(1, "10.0.0.1") == (None, None)
    assert admission.admit(2, "10.0.0.2") == (None, None)
    refused, _ = admission.admit(3, "10.0.0.1")
    assert refused is not None
    assert "address" in refused
    admission.release(1, "10.0.0.1")
    assert "10.0.0.1" not in admission.per_address
    assert admission.admit(3, "10.0.0.1") == (None, None)


def test_zero_means_no_limit() -> None:
    admission: Admission[int] = Admission(0, 0, 0)
    assert all(admission.admit(n, "h") == (None, None) for n in range(5000))
