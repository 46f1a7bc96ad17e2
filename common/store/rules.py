"""Pure rules both store backends share: millisecond timestamps and in-batch merging.

No I/O here; the backends apply the same rule in SQL or in an update pipeline, and these
functions make what they are given comparable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from common.records import StoredNotification

__all__ = ["collapse", "from_ms", "normalize", "to_ms", "truncate"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(value: datetime) -> int:
    """Epoch milliseconds, floored, computed exactly (no float rounding)."""
    return (value - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def truncate(value: datetime) -> datetime:
    """``value`` in UTC, cut to the millisecond."""
    return from_ms(to_ms(value))


def normalize(record: StoredNotification) -> StoredNotification:
    """The record as a store keeps it: every timestamp truncated to the millisecond."""
    n = record.notification
    notification = n.model_copy(
        update={"createdAt": truncate(n.createdAt), "expiresAt": truncate(n.expiresAt)}
    )
    return record.model_copy(update={
        "notification": notification,
        "statusAt": truncate(record.statusAt),
        "readAt": truncate(record.readAt) if record.readAt is not None else None,
    })


def collapse(records: Iterable[StoredNotification]) -> list[StoredNotification]:
    """One record per id, merged in the order given (as if upserted one by one).

    A batch often carries one id twice (an ACK from two devices, an ACK racing the expiry
    sweep). Merging here keeps each id to one write, so the backend's write order within a
    batch (unordered in MongoDB's ``bulk_write``) cannot change the result.
    """
    merged: dict[str, StoredNotification] = {}
    for record in records:
        key = record.notification.id
        earlier = merged.get(key)
        merged[key] = record if earlier is None else earlier.merge(record)
    return list(merged.values())
