"""The pure parts of the erasure (common.erasure): which rows an erasure covers, which
stream entries belong to a user, and glob escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from common.buffer.formats import entry_belongs
from common.buffer.formats import erasure_member as index_member
from common.buffer.keys import glob_escape
from common.erasure import stale_rows
from common.millis import to_ms
from common.models import EventType, Notification, Priority
from common.records import Status
from common.rows import make_row

pytestmark = pytest.mark.unit

BASE = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def _note(user: str, tenant: str = "t1", created: datetime = BASE) -> Notification:
    return Notification(
        id=f"n-{user}-{tenant}-{to_ms(created)}", tenantId=tenant, userId=user,
        type=EventType.FOLLOW, actorId="alice", eventId="e1", message="m",
        priority=Priority.PROMOTIONAL, createdAt=created, expiresAt=created + timedelta(days=1))


def test_rows_created_at_or_before_the_erasure_of_their_user_are_stale() -> None:
    rows = [make_row(n, Status.ACKED.value, to_ms(BASE)) for n in (
        _note("bob"),                                         # before: stale
        _note("bob", created=BASE + timedelta(seconds=1)),    # at the erasure ms: stale
        _note("bob", created=BASE + timedelta(seconds=2)),    # after: kept
        _note("carol"),                                       # not erased
        _note("bob", tenant="t2"),                            # another tenant's bob
    )]
    erased = {("t1", "bob"): to_ms(BASE + timedelta(seconds=1))}
    assert stale_rows(rows, erased) == [0, 1]
    assert stale_rows(rows, {}) == []


def test_a_stream_entry_belongs_to_its_tenant_and_user_only() -> None:
    body = orjson.dumps({"tenantId": "t1", "userId": "bob", "message": '"userId":"eve"'})
    needle = orjson.dumps({"userId": "bob"})[1:-1]
    assert entry_belongs({b"n": body}, needle, "t1", "bob")
    assert entry_belongs({"n": body.decode()}, needle, "t1", "bob")
    assert not entry_belongs({b"n": body}, needle, "t2", "bob")
    eve = orjson.dumps({"userId": "eve"})[1:-1]
    assert not entry_belongs({b"n": body}, eve, "t1", "eve")  # only inside the message text
    assert not entry_belongs({b"n": b"not json \"userId\":\"bob\""}, needle, "t1", "bob")
    assert not entry_belongs({}, needle, "t1", "bob")


def test_glob_characters_are_escaped_and_members_are_tenant_then_user() -> None:
    assert glob_escape("p:seen:{t:u}:") == "p:seen:{t:u}:"
    assert glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"
    assert index_member("t1", "bob") == "t1|bob"
