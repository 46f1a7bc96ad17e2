"""``CORS_ALLOWED_ORIGINS``: a comma-separated list of origins, checked at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from producer.settings import ProducerSettings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "x" * 32)


def test_origins_are_split_and_empty_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", " https://a.example , http://localhost:3000,")
    assert ProducerSettings().cors_allowed_origins == ("https://a.example",
                                                       "http://localhost:3000")
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS")
    assert ProducerSettings().cors_allowed_origins == ()
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "*")
    assert ProducerSettings().cors_allowed_origins == ("*",)


@pytest.mark.parametrize("value", ["https://a.example/", "a.example", "https://a.example/app",
                                   "ftp://a.example"])
def test_a_value_that_is_not_an_origin_stops_the_producer(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
    with pytest.raises(ValidationError, match="cors_allowed_origins"):
        ProducerSettings()
