"""The persister's decoder: stream entry fields (bytes, as Redis returns them) → store row.

It must accept exactly what the ``Notification`` model accepts (the read API validates the
stored body with it again) and refuse the rest with a ``ValueError``, so that the worker can
dead-letter the entry instead of failing the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from common.buffer.formats import encode_entry
from common.millis import to_ms
from common.models import EventType, Notification, Priority
from common.records import Status
from common.rows import row_of
from persister.entries import MAX_MS, MIN_MS, decode
from tests.support.reference import decode_entry

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 11, 21, 12, 0, 0, 123_456, tzinfo=UTC)


def body(**over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "n-1", "tenantId": "default", "userId": "bob", "type": "COMMENT",
        "actorId": "alice", "eventId": "ev-1", "postId": "p1", "commentId": "c1",
        "message": 'alice said "hi" \\ \u00e9\U0001f600\n', "priority": "transactional",
        "createdAt": CREATED.isoformat(), "expiresAt": (CREATED + timedelta(days=1)).isoformat(),
    }
    fields.update(over)
    return {k: v for k, v in fields.items() if v is not ...}


def entry(notification: dict[str, Any] | bytes, s: str = "acked", t: str = "1763726400000"
          ) -> dict[bytes, bytes]:
    raw = notification if isinstance(notification, bytes) else orjson.dumps(notification)
    return {b"n": raw, b"s": s.encode(), b"t": t.encode()}


def test_a_good_entry_becomes_a_row_with_millisecond_times() -> None:
    row = decode(entry(body(), "expired", "1763726400999"))
    assert (row.id, row.tenant_id, row.user_id) == ("n-1", "default", "bob")
    assert (row.status, row.status_ms, row.read_ms) == ("expired", 1763726400999, None)
    assert row.created_ms == to_ms(CREATED) == 1795262400123
    assert row.notification["createdAt"] == CREATED.replace(microsecond=123_000)
    assert row.notification["expiresAt"] == CREATED.replace(microsecond=123_000) + timedelta(
        days=1)
    assert row.notification["type"] == "COMMENT"
    assert type(row.notification["type"]) is str
    assert row.notification["priority"] == "transactional"
    assert row.notification["message"] == 'alice said "hi" \\ \u00e9\U0001f600\n'
    assert Notification.model_validate(row.notification).id == "n-1"


def test_times_in_another_zone_become_utc_and_extra_fields_are_dropped() -> None:
    paris = timezone(timedelta(hours=2))
    row = decode(entry(body(createdAt=CREATED.astimezone(paris).isoformat(), postId=None,
                            commentId=..., extra="ignored")))
    assert row.notification["createdAt"] == CREATED.replace(microsecond=123_000)
    assert row.notification["createdAt"].utcoffset() == timedelta(0)
    assert row.notification["postId"] is None
    assert row.notification["commentId"] is None
    assert "extra" not in row.notification


def test_the_row_is_the_one_the_read_api_path_makes() -> None:
    """The persister's decoder and ``row_of(decode_entry(...))`` (the models' path) agree."""
    for status in (Status.ACKED, Status.EXPIRED):
        fields = {k.encode(): v.encode()
                  for k, v in encode_entry(orjson.dumps(body()), status, 1763726400123).items()}
        assert decode(fields) == row_of(decode_entry(fields))


@pytest.mark.parametrize("t", [str(MIN_MS), str(MAX_MS), "-1", "0", " 42 "])
def test_any_time_a_datetime_can_hold_is_taken(t: str) -> None:
    assert decode(entry(body(), t=t)).status_ms == int(t)


BAD: list[tuple[str, dict[bytes, bytes]]] = [
    ("no fields", {}),
    ("no n", {b"s": b"acked", b"t": b"1"}),
    ("no s", {b"n": orjson.dumps(body()), b"t": b"1"}),
    ("no t", {b"n": orjson.dumps(body()), b"s": b"acked"}),
    ("pending", entry(body(), "pending")),
    ("unknown status", entry(body(), "lost")),
    ("status case", entry(body(), "ACKED")),
    ("t not a number", entry(body(), t="yesterday")),
    ("t a float", entry(body(), t="1.5")),
    ("t empty", entry(body(), t="")),
    ("t past year 9999", entry(body(), t=str(MAX_MS + 1))),
    ("t before year 1", entry(body(), t=str(MIN_MS - 1))),
    ("t huge", entry(body(), t="99999999999999999999")),
    ("t huge negative", entry(body(), t="-99999999999999999999999")),
    ("not json", entry(b"not json")),
    ("not utf-8", entry(b"\xff\xfe not utf-8")),
    ("a list", entry(b"[1, 2]")),
    ("empty object", entry(b"{}")),
    ("missing userId", entry(body(userId=...))),
    ("missing createdAt", entry(body(createdAt=...))),
    ("bad user id", entry(body(userId="bob smith"))),
    ("user id with a newline", entry(body(userId="bob\n"))),
    ("user id too long", entry(body(userId="u" * 129))),
    ("tenant id not a string", entry(body(tenantId=7))),
    ("bad type", entry(body(type="PO KE"))),
    ("unknown priority", entry(body(priority="urgent"))),
    ("naive time", entry(body(createdAt="2026-11-21T12:00:00"))),
    ("not a time", entry(body(expiresAt="tomorrow"))),
    ("message not a string", entry(body(message=["a"]))),
]


@pytest.mark.parametrize(("name", "fields"), BAD, ids=[name for name, _ in BAD])
def test_a_malformed_entry_raises_value_error(name: str, fields: dict[bytes, bytes]) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - the message differs per input; the type is the contract
        decode(fields)
    assert str(raised.value)
    # ... and so does the models' decoder: both refuse the same entries.
    with pytest.raises(ValueError):  # noqa: PT011 - the message differs per input; the type is the contract
        decode_entry(fields)


def test_what_the_gateway_writes_is_taken() -> None:
    n = Notification(id="n-9", tenantId="t1", userId="u1", type=EventType.FOLLOW,
                     actorId="a", eventId="e9", message="a started following you",
                     priority=Priority.PROMOTIONAL, createdAt=CREATED,
                     expiresAt=CREATED + timedelta(seconds=5))
    fields = {k.encode(): v.encode()
              for k, v in encode_entry(n.model_dump_json(), Status.ACKED, 5).items()}
    row = decode(fields)
    assert Notification.model_validate(row.notification) == n.model_copy(update={
        "createdAt": CREATED.replace(microsecond=123_000),
        "expiresAt": CREATED.replace(microsecond=123_000) + timedelta(seconds=5)})
