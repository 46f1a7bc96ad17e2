"""The token bucket's arithmetic and the answer's fields, without Redis."""

from __future__ import annotations

import re

import pytest

from common.settings import SettingsError, load_settings
from producer.ingest.admission import stand_in_key
from producer.ingest.rate_limit import Decision, charge, decide, headers, refill, window_seconds
from producer.settings import ProducerSettings

pytestmark = pytest.mark.unit

POLICY = re.compile(r'^"default";q=(\d+);w=([1-9]\d*)$')
LIMIT = re.compile(r'^"default";r=(\d+);t=(\d+)$')


def test_refill_adds_rate_times_elapsed_up_to_the_burst() -> None:
    assert refill(0.0, 0.5, rate=10, burst=100) == 5.0
    assert refill(95.0, 2.0, rate=10, burst=100) == 100.0
    assert refill(3.0, -5.0, rate=10, burst=100) == 3.0  # a clock going back adds nothing


def test_charge_takes_the_whole_cost_or_nothing() -> None:
    assert charge(5.0, 5) == (True, 0.0)
    assert charge(4.9, 5) == (False, 4.9)
    assert charge(0.0, 0) == (True, 0.0)


def test_a_full_bucket_lets_the_burst_through_then_refuses() -> None:
    tokens, allowed = 10.0, []
    for _ in range(12):
        decision = decide(tokens, 0.0, rate=2, burst=10, cost=1)
        allowed.append(decision.allowed)
        tokens = decision.tokens
    assert allowed == [True] * 10 + [False] * 2
    after = decide(tokens, 1.0, rate=2, burst=10, cost=1)  # one second later: two tokens
    assert after.allowed
    assert after.remaining == 1


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    refused = Decision(False, 0.0, cost=1, rate=100, burst=10)
    assert refused.retry_after == 1  # 10 ms away, still 1 s on the wire
    slow = Decision(False, 0.5, cost=3, rate=0.5, burst=10)
    assert slow.retry_after == 5  # 2.5 tokens at 0.5/s
    assert Decision(True, 3.0, cost=1, rate=1, burst=10).retry_after == 0


def test_fields_of_an_allowed_and_a_refused_call() -> None:
    allowed = headers(Decision(True, 7.4, cost=1, rate=2, burst=10))
    assert set(allowed) == {"RateLimit-Policy", "RateLimit"}
    assert POLICY.match(allowed["RateLimit-Policy"]).groups() == ("10", "5")  # type: ignore[union-attr]
    assert LIMIT.match(allowed["RateLimit"]).groups() == ("7", "2")  # type: ignore[union-attr]

    refused = headers(Decision(False, 0.25, cost=1, rate=0.5, burst=3))
    assert refused["Retry-After"] == "2"
    # The draft: Retry-After should not point earlier than the end of the effective window.
    assert LIMIT.match(refused["RateLimit"]).groups() == ("0", "2")  # type: ignore[union-attr]
    assert POLICY.match(refused["RateLimit-Policy"]).groups() == ("3", "6")  # type: ignore[union-attr]


def test_window_is_the_time_to_fill_an_empty_bucket() -> None:
    assert window_seconds(rate=100, burst=10) == 1
    assert window_seconds(rate=3, burst=10) == 4


def test_stand_in_key_hashes_credentials_and_falls_back_to_the_address() -> None:
    secret = b"sk-live-0123456789"
    by_header = stand_in_key({"headers": [(b"x-api-key", secret)], "client": ("1.2.3.4", 5)})
    by_bearer = stand_in_key({"headers": [(b"authorization", b"Bearer " + secret)]})
    assert by_header == by_bearer
    assert by_header.startswith("key:")
    assert secret.decode() not in by_header
    assert stand_in_key({"headers": [], "client": ("1.2.3.4", 5)}) == "addr:1.2.3.4"
    assert stand_in_key({"headers": [(b"authorization", b"Basic abc")]}) == "addr:unknown"


def test_rate_limit_settings_are_both_on_or_both_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "x" * 32)
    settings = load_settings(ProducerSettings, "producer")
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (0, 0)
    monkeypatch.setenv("RATE_LIMIT_PER_SECOND", "2.5")
    with pytest.raises(SettingsError):
        load_settings(ProducerSettings, "producer")
    monkeypatch.setenv("RATE_LIMIT_BURST", "20")
    assert load_settings(ProducerSettings, "producer").rate_limit_burst == 20
