"""The door's pure parts: which header carries the key, what a principal may do, how a body's
tenant is bound to the key's, and the cache (a revocation is seen after at most a second)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from common.tenancy import (
    EVENTS_BROADCAST,
    EVENTS_WRITE,
    NOTIFICATIONS_READ,
    ApiKey,
    Tenant,
    new_key,
)
from producer.door import Door, Principal, bind_tenant, credential
from producer.errors import HttpError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRINCIPAL = Principal("acme", "0123456789ab", frozenset({EVENTS_WRITE}))


@pytest.mark.parametrize(("headers", "found"), [
    ([], None),
    ([(b"x-api-key", b"k1")], "k1"),
    ([(b"authorization", b"Bearer k2")], "k2"),
    ([(b"authorization", b"bearer  k2 ")], "k2"),
    ([(b"authorization", b"Basic k3")], None),
    ([(b"authorization", b"Bearer k2"), (b"x-api-key", b"k1")], "k1"),
    ([(b"x-api-key", b"  ")], ""),
    ([(b"x-api-key", b""), (b"authorization", b"Bearer k2")], ""),
])
def test_the_key_comes_from_x_api_key_or_a_bearer_credential(
    headers: list[tuple[bytes, bytes]], found: str | None
) -> None:
    assert credential(headers) == found


def test_a_principal_needs_the_scope_and_its_own_tenant() -> None:
    assert PRINCIPAL.require(EVENTS_WRITE) is PRINCIPAL
    with pytest.raises(HttpError) as refused:
        PRINCIPAL.require(NOTIFICATIONS_READ)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert PRINCIPAL.tenant_for(None) == PRINCIPAL.tenant_for("acme") == "acme"
    with pytest.raises(HttpError, match="another tenant"):
        PRINCIPAL.tenant_for("beta")


def test_a_body_gets_the_keys_tenant_and_may_not_name_another() -> None:
    assert bind_tenant({"type": "LIKE"}, PRINCIPAL) == {"type": "LIKE", "tenantId": "acme"}
    assert bind_tenant({"tenantId": "acme"}, PRINCIPAL) == {"tenantId": "acme"}
    with pytest.raises(HttpError) as refused:
        bind_tenant({"tenantId": "beta"}, PRINCIPAL)
    assert refused.value.status == 403
    assert bind_tenant([1], PRINCIPAL) == [1]  # validation refuses it later
    assert bind_tenant({"tenantId": "beta"}, None) == {"tenantId": "beta"}  # trusted mode


def test_a_broadcast_needs_its_own_scope() -> None:
    with pytest.raises(HttpError, match="events:broadcast") as refused:
        bind_tenant({"topic": "*"}, PRINCIPAL)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    allowed = Principal("acme", "0123456789ab", frozenset({EVENTS_WRITE, EVENTS_BROADCAST}))
    assert bind_tenant({"topic": "*"}, allowed) == {"topic": "*", "tenantId": "acme"}
    # A named topic needs only events:write; a topic that is not a string: validation's.
    assert bind_tenant({"topic": "followers:a"}, PRINCIPAL)["topic"] == "followers:a"
    assert bind_tenant({"topic": ["*"]}, PRINCIPAL)["topic"] == ["*"]
    assert bind_tenant({"topic": "*"}, None) == {"topic": "*"}  # trusted mode: an open door


class _Store:
    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.reads = 0

    async def get_key(self, key_id: str) -> ApiKey | None:
        self.reads += 1
        await asyncio.sleep(0.01)
        return self.key if key_id == self.key.key_id else None

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return Tenant(tenant_id, tenant_id, NOW, 5.0, 10)


class _Holder:
    def __init__(self, store: _Store) -> None:
        self.store = store


async def test_a_key_is_read_at_most_once_a_second_and_a_revocation_seen_after() -> None:
    made = new_key("acme", frozenset({EVENTS_WRITE}), NOW)
    store = _Store(made.stored)
    clock = [100.0]
    holder: Any = _Holder(store)
    door = Door(holder, "a" * 32, clock=lambda: clock[0])
    principal = await door.authenticate(made.secret)
    assert (principal.tenant_id, principal.rate, principal.burst) == ("acme", 5.0, 10)
    await door.authenticate(made.secret)
    assert store.reads == 1
    store.key = made.stored.revoked(NOW)
    clock[0] += 0.5
    await door.authenticate(made.secret)  # still cached
    clock[0] += 0.6
    with pytest.raises(HttpError, match="revoked"):
        await door.authenticate(made.secret)
    for bad in (None, "", "nonsense", made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B")):
        with pytest.raises(HttpError) as refused:
            await door.authenticate(bad)
        assert refused.value.status == 401
    assert door.is_admin_key("a" * 32)
    assert not door.is_admin_key("b" * 32)


async def test_concurrent_calls_with_a_new_key_share_one_store_read() -> None:
    made = new_key("acme", frozenset({EVENTS_WRITE}), NOW)
    store = _Store(made.stored)
    holder: Any = _Holder(store)
    door = Door(holder, None)
    principals = await asyncio.gather(*(door.authenticate(made.secret) for _ in range(50)))
    assert {p.key_id for p in principals} == {made.stored.key_id}
    assert store.reads == 1
