from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from common.millis import from_ms, to_ms, truncate
from common.models import EventType, Notification, Priority
from common.records import Status, StoredNotification
from common.rows import collapse, row_of
from tests.support.reference import merge, normalize

pytestmark = pytest.mark.unit

AT = datetime(2026, 1, 2, 3, 4, 5, 678_999, tzinfo=UTC)


def rec(nid: str, status: Status, seconds: int = 0, read: datetime | None = None
        ) -> StoredNotification:
    n = Notification(id=nid, tenantId="t", userId="u", type=EventType.FOLLOW, actorId="a",
                     eventId="e", message="m", priority=Priority.PROMOTIONAL, createdAt=AT,
                     expiresAt=AT + timedelta(days=1))
    return StoredNotification(notification=n, status=status,
                              statusAt=AT + timedelta(seconds=seconds), readAt=read)


def test_milliseconds_are_exact_and_floored() -> None:
    assert to_ms(AT) == 1_767_323_045_678
    assert from_ms(to_ms(AT)) == AT.replace(microsecond=678_000)
    assert to_ms(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1
    assert truncate(AT).tzinfo is not None


def test_normalize_truncates_every_timestamp() -> None:
    got = normalize(rec("n", Status.ACKED, read=AT))
    stamps = [got.statusAt, got.readAt, got.notification.createdAt, got.notification.expiresAt]
    assert all(s is not None and s.microsecond % 1000 == 0 for s in stamps)


@pytest.mark.parametrize("statuses", list(itertools.product(
    [Status.ACKED, Status.EXPIRED], repeat=3)))
def test_collapse_is_merging_one_by_one(statuses: tuple[Status, ...]) -> None:
    records = [rec("n", s, seconds=i, read=AT if i == 1 else None)
               for i, s in enumerate(statuses)]
    expected = records[0]
    for newer in records[1:]:
        expected = merge(expected, newer)
    rows = [row_of(r) for r in [*records, rec("other", Status.EXPIRED)]]
    assert collapse(rows) == [row_of(expected), row_of(rec("other", Status.EXPIRED))]
    if Status.ACKED in statuses:
        assert expected.status is Status.ACKED


@pytest.mark.parametrize("versions", list(itertools.product([1, 2, 3], repeat=3)))
@pytest.mark.parametrize("statuses", [(Status.ACKED, Status.EXPIRED, Status.EXPIRED),
                                      (Status.EXPIRED, Status.ACKED, Status.EXPIRED)])
def test_collapse_with_versions_is_merging_one_by_one(
    versions: tuple[int, ...], statuses: tuple[Status, ...],
) -> None:
    """A digest's versions (common/buffer/digest.py): the higher version wins the body and
    its read time; the status rule is unchanged."""
    records = []
    for i, (version, status) in enumerate(zip(versions, statuses, strict=True)):
        base = rec("n", status, seconds=i, read=AT if i == 1 else None)
        body = base.notification.model_copy(update={"version": version, "count": version,
                                                    "message": f"m{version}"})
        records.append(base.model_copy(update={"notification": body}))
    expected = records[0]
    for newer in records[1:]:
        expected = merge(expected, newer)
    assert collapse([row_of(r) for r in records]) == [row_of(expected)]
    assert expected.notification.version == max(versions)
