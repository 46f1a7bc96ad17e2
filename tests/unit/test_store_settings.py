from __future__ import annotations

import pytest

from common.settings import SettingsError, load_settings
from common.store import DEFAULT_STORE_URL, StoreSettings, parse_store_url

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STORE_URL", "MONGO_URI", "STORE_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("url", "backend", "target", "busy"), [
    ("sqlite:///./var/herald.db", "sqlite", "./var/herald.db", 5000),
    ("sqlite:///var/h.db", "sqlite", "var/h.db", 5000),
    ("sqlite:////tmp/x/h.db?busy_timeout_ms=250", "sqlite", "/tmp/x/h.db", 250),
    ("sqlite:///:memory:", "sqlite", ":memory:", 5000),
    ("mongodb://db:27017/herald", "mongodb", "mongodb://db:27017/herald", 5000),
    ("mongodb+srv://u:p@cluster.example/herald?retryWrites=true", "mongodb",
     "mongodb+srv://u:p@cluster.example/herald?retryWrites=true", 5000),
])
def test_store_urls(url: str, backend: str, target: str, busy: int) -> None:
    parsed = parse_store_url(url)
    assert (parsed.backend, parsed.target, parsed.busy_timeout_ms) == (backend, target, busy)


@pytest.mark.parametrize("url", ["postgres://x", "sqlite://relative.db", "sqlite:///",
                                 "sqlite:///h.db?mode=ro", "sqlite:///h.db?busy_timeout_ms=x",
                                 "sqlite:///h.db?busy_timeout_ms=9999999"])
def test_bad_store_urls(url: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per input; the type is the contract
        parse_store_url(url)


def test_default_is_sqlite_under_var() -> None:
    settings = load_settings(StoreSettings, "test")
    assert settings.store_url == DEFAULT_STORE_URL == "sqlite:///./var/herald.db"
    assert settings.store_retention_days == 90


def test_mongo_uri_is_accepted_and_store_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URI", "mongodb://seed:27017/herald")
    assert load_settings(StoreSettings, "test").store_url == "mongodb://seed:27017/herald"
    monkeypatch.setenv("STORE_URL", "sqlite:///x.db")
    assert load_settings(StoreSettings, "test").store_url == "sqlite:///x.db"


@pytest.mark.parametrize(("name", "value"), [("STORE_URL", "redis://x"),
                                             ("MONGO_URI", "http://x"),
                                             ("STORE_RETENTION_DAYS", "0")])
def test_a_bad_store_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(StoreSettings, "test")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "STORE_URL" in err or name in err
