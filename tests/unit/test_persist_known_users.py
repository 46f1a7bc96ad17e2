"""The persister's known users (issue 20): per tenant, each user once, recorded at the
earliest creation time of the tenant's rows in the batch, chunked to the store's bound."""

from __future__ import annotations

import pytest

from common.rows import Row
from common.store.base import MAX_MEMBER_IDS
from persister.worker import known_users_of

pytestmark = pytest.mark.unit


def row(tenant: str, user: str, created_ms: int) -> Row:
    return Row(f"{tenant}-{user}-{created_ms}", tenant, user, created_ms, "acked", created_ms,
               None, {})


def test_each_tenant_once_with_its_users_once_at_its_earliest_row() -> None:
    rows = [row("t1", "bob", 50), row("t2", "bob", 70), row("t1", "carol", 20),
            row("t1", "bob", 10), row("t2", "dave", 90)]
    assert known_users_of(rows) == [("t1", ["bob", "carol"], 10), ("t2", ["bob", "dave"], 70)]
    assert known_users_of([]) == []


def test_a_tenant_with_more_users_than_one_write_takes_is_chunked() -> None:
    rows = [row("t", f"u{i}", i) for i in range(MAX_MEMBER_IDS + 5)]
    chunks = known_users_of(rows)
    assert [len(users) for _, users, _ in chunks] == [MAX_MEMBER_IDS, 5]
    assert {at for _, _, at in chunks} == {0}
