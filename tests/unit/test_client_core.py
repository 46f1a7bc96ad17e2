"""The Python client's pure parts: which close codes reconnect, the backoff's draws, and the
ledger that shows each notification once and owes every ACK until it is confirmed."""

from __future__ import annotations

import random

import pytest
from herald_client import Action, Backoff, Ledger, Verdict, after_close

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("code", "can_refresh", "action"), [
    (None, False, Action.RECONNECT), (1001, False, Action.RECONNECT),
    (1006, False, Action.RECONNECT), (1011, False, Action.RECONNECT),
    (1013, False, Action.RECONNECT), (4002, False, Action.RECONNECT),
    (4029, False, Action.RECONNECT), (4003, True, Action.REFRESH), (4003, False, Action.STOP),
    (1007, True, Action.STOP), (1008, True, Action.STOP), (1009, True, Action.STOP),
    (4001, True, Action.STOP),
])
def test_close_codes(code: int | None, can_refresh: bool, action: Action) -> None:
    assert after_close(code, can_refresh) is action


def test_backoff_draws_within_a_growing_capped_ceiling_and_resets() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    draws = [backoff.next() for _ in range(12)]
    ceilings = [min(1.0, 0.1 * 2 ** n) for n in range(12)]
    assert all(0 <= d <= c for d, c in zip(draws, ceilings, strict=True))
    assert max(draws[6:]) > 0.1  # it grew
    backoff.reset()
    assert backoff.next() <= 0.1


def test_a_replayed_notification_reaches_the_app_once_and_an_acked_one_is_acked_again() -> None:
    ledger = Ledger()
    assert ledger.on_notification("a") is Verdict.DELIVER
    assert ledger.on_notification("b") is Verdict.DELIVER
    ledger.ack(["a"])
    assert ledger.take_unsent(10) == ["a"]
    ledger.on_reconnect()  # the ACK of "a" was written but never confirmed
    assert ledger.on_notification("a") is Verdict.REACK
    assert ledger.on_notification("b") is Verdict.SKIP  # the app has it, its ACK will come
    assert ledger.duplicates == 2
    assert ledger.take_unsent(10) == ["a"]
    ledger.on_ack_ok(["a"], [])
    assert ledger.owed == {}


def test_try_again_puts_the_ids_back_and_unknown_counts_as_done() -> None:
    ledger = Ledger()
    ledger.ack(["a", "b", "c"])
    assert ledger.take_unsent(2) == ["a", "b"]
    ledger.on_try_again(["a", "b"])
    assert ledger.take_unsent(10) == ["c", "a", "b"]
    ledger.on_ack_ok(["a"], ["b", "c"])
    assert ledger.owed == {}
    assert ledger.unsent == {}


def test_the_memory_of_seen_ids_is_bounded() -> None:
    ledger = Ledger(remember=3)
    for n in range(5):
        ledger.on_notification(str(n))
    assert ledger.on_notification("0") is Verdict.DELIVER  # forgotten: shown again
    assert ledger.on_notification("4") is Verdict.SKIP


def test_a_higher_version_is_an_update_and_an_older_one_never_after_it() -> None:
    """Digests: the JS SDK's Ledger does the same (clients/js/test/ledger.test.js)."""
    ledger = Ledger()
    assert ledger.on_notification("d", 1) is Verdict.DELIVER
    assert ledger.on_notification("d", 3) is Verdict.UPDATE
    assert ledger.on_notification("d", 2) is Verdict.SKIP
    assert ledger.on_notification("d", 3) is Verdict.SKIP
    ledger.ack(["d"])
    assert ledger.on_notification("d", 3) is Verdict.REACK
    assert ledger.on_notification("d", 4) is Verdict.UPDATE
    assert ledger.duplicates == 3
    assert ledger.on_notification("n", 5) is Verdict.DELIVER
    assert ledger.on_notification("n", 5) is Verdict.SKIP


def test_inbox_seq_keeps_only_newer_states() -> None:
    from herald_client import InboxSeq

    inbox = InboxSeq()
    assert inbox.accept({"seq": 2, "unseen": 1})
    assert not inbox.accept({"seq": 1, "unseen": 9})
    assert not inbox.accept({"seq": 2, "unseen": 9})
    assert not inbox.accept({"seq": "3"})
    assert not inbox.accept({"seq": True})
    assert inbox.accept({"seq": 5, "unseen": 0})
    assert (inbox.seq, inbox.state) == (5, {"seq": 5, "unseen": 0})
