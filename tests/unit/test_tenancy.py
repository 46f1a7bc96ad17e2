"""The pure part of tenancy: key format, hashing, scopes (common.tenancy)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.tenancy import (
    ADMIN,
    EVENTS_WRITE,
    SCOPES,
    check_scopes,
    hash_key,
    key_id_of,
    matches,
    new_key,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_new_key_names_its_id_and_is_stored_only_as_its_hash() -> None:
    made = new_key("acme", frozenset({EVENTS_WRITE}), NOW, "ci")
    assert made.secret.startswith(f"hk_{made.stored.key_id}_")
    assert key_id_of(made.secret) == made.stored.key_id
    assert made.stored.hash == hash_key(made.secret) != made.secret
    assert matches(made.secret, made.stored)
    assert not matches(made.secret + "x", made.stored)
    assert made.secret not in repr(made) and made.secret not in str(made.stored.to_json())
    assert made.to_json()["key"] == made.secret
    assert made.stored.prefix == f"hk_{made.stored.key_id}_"


def test_keys_differ_each_time() -> None:
    keys = {new_key("acme", frozenset({ADMIN}), NOW).secret for _ in range(50)}
    assert len(keys) == 50


@pytest.mark.parametrize("text", ["", "hk_", "hk_abc_def", "Bearer x", "hk_0123456789ab_short",
                                  "hk_0123456789AB_" + "a" * 43, "xx_0123456789ab_" + "a" * 43])
def test_anything_else_is_not_a_key(text: str) -> None:
    assert key_id_of(text) is None


def test_scopes_are_checked() -> None:
    assert check_scopes(list(SCOPES)) == frozenset(SCOPES)
    with pytest.raises(ValueError, match="unknown scope 'events:read'"):
        check_scopes(["events:read"])
    with pytest.raises(ValueError, match="at least one scope"):
        check_scopes([])


def test_revoking_keeps_the_first_time() -> None:
    stored = new_key("acme", frozenset({ADMIN}), NOW).stored
    once = stored.revoked(NOW)
    assert not once.active and once.revoked(datetime(2030, 1, 1, tzinfo=UTC)) == once


def test_a_tenant_must_be_an_id() -> None:
    with pytest.raises(ValueError, match="tenantId"):
        new_key("no spaces", frozenset({ADMIN}), NOW)
