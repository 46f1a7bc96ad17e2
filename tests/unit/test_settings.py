from __future__ import annotations

import subprocess
import sys

import pytest

from common.backoff import Backoff
from common.naming import Names
from common.settings import SettingsError, load_settings
from consumer.settings import ConsumerSettings
from producer.settings import ProducerSettings
from tests.support.processes import ROOT

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "x" * 32)


def test_defaults_follow_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "HERALD_PREFIX", "RABBITMQ_URL", "REDIS_URL", "AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    producer = load_settings(ProducerSettings, "producer")
    assert (producer.port, producer.herald_prefix) == (8000, "herald")
    assert producer.rabbitmq_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert load_settings(ConsumerSettings, "consumer").port == 8002


def test_port_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    assert load_settings(ProducerSettings, "producer").port == 9123


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("RABBITMQ_URL", "http://x"),
        ("REDIS_URL", "localhost:6379"),
        ("HERALD_PREFIX", "has space"),
        ("LOG_LEVEL", "loud"),
        ("PREFETCH", "0"),
        ("DEDUP_TTL_SECONDS", "10"),
        ("HERALD_RELEASE_BATCH", "0"),
        ("HERALD_RELEASE_BATCH", "many"),
        ("HERALD_RELEASE_CLAIM_SECONDS", "1"),
    ],
)
def test_a_bad_setting_stops_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(ConsumerSettings, "consumer")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("herald consumer: bad setting")
    assert name in err


def test_jwt_mode_needs_a_key_and_trusted_mode_does_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(SettingsError):
        load_settings(ProducerSettings, "producer")
    assert "AUTH_MODE=jwt needs JWT_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("AUTH_MODE", "trusted")
    assert load_settings(ProducerSettings, "producer").auth_mode == "trusted"


def test_read_api_keys_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READ_API_KEYS", "k" * 16 + ", " + "j" * 20)
    assert load_settings(ProducerSettings, "producer").read_api_keys == ("k" * 16, "j" * 20)
    monkeypatch.setenv("READ_API_KEYS", "short")
    with pytest.raises(SettingsError):
        load_settings(ProducerSettings, "producer")


@pytest.mark.parametrize("module", ["producer", "consumer", "ws_gateway", "persister"])
def test_the_service_exits_2_on_a_bad_setting(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "PORT": "not-a-port"},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"herald {module}: bad setting: PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_names_share_a_hash_tag_per_recipient(monkeypatch: pytest.MonkeyPatch) -> None:
    names = Names("hx")
    keys = [names.keys.pending_hash("t", "u"), names.keys.pending_index("t", "u"),
            names.keys.seen_key("t", "u", "n1"), names.keys.semantic_key("t", "u", "d")]
    assert all(k.startswith("hx:") and "{0}:t:u" in k for k in keys)
    monkeypatch.setenv("HERALD_BUFFER_SHARDS", "8")
    assert load_settings(ProducerSettings, "producer").names.shards == 8
    monkeypatch.setenv("HERALD_BUFFER_SHARDS", "0")
    with pytest.raises(SettingsError):
        load_settings(ProducerSettings, "producer")
    assert names.notify_queue == "hx.notify"
    assert names.routing_key("LIKE") == "event.like"


def test_backoff_grows_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next() for _ in range(10)]
    ceilings = [min(1.0, 0.1 * 2**n) for n in range(10)]
    # What the docstring promises: uniform in [ceiling / 10, ceiling].
    assert all(c / 10 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[5:]) > 0.1
    backoff.reset()
    assert 0.01 <= backoff.next() <= 0.1


def test_the_erasure_tombstone_lasts_30_days_and_at_least_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(ProducerSettings, "producer").erasure_tombstone_seconds == 30 * 86400
    monkeypatch.setenv("ERASURE_TOMBSTONE_SECONDS", "60")
    with pytest.raises(SettingsError):
        load_settings(ProducerSettings, "producer")
