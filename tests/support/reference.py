"""The model-based reference the services' fast paths are tested against.

The persister decodes stream entries straight into store rows (:mod:`persister.entries`) and
the stores keep millisecond timestamps; these are the same rules written the plain way, with
the pydantic models, for tests to compare with.
"""

from __future__ import annotations

from datetime import UTC, datetime

from common.millis import truncate
from common.models import Notification
from common.records import Status, StoredNotification

__all__ = ["decode_entry", "merge", "normalize"]


def decode_entry(fields: dict[str, str] | dict[bytes, bytes]) -> StoredNotification:
    """Raises ``ValueError`` (pydantic's ValidationError is one) on a malformed entry."""
    text = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in fields.items()}
    try:
        status = Status(text["s"])
        at = datetime.fromtimestamp(int(text["t"]) / 1000, UTC)
    except (KeyError, OSError, OverflowError) as exc:  # missing field, absurd timestamp
        raise ValueError(f"malformed stream entry: {exc!r}") from None
    if status is Status.PENDING:
        raise ValueError("a stream entry is acked or expired, never pending")
    if "n" not in text:
        raise ValueError("malformed stream entry: no notification")
    return StoredNotification(
        notification=Notification.model_validate_json(text["n"]), status=status, statusAt=at
    )


def normalize(record: StoredNotification) -> StoredNotification:
    """The record as a store keeps it: every timestamp truncated to the millisecond."""
    n = record.notification
    notification = n.model_copy(
        update={"createdAt": truncate(n.createdAt), "expiresAt": truncate(n.expiresAt)}
    )
    return record.model_copy(update={
        "notification": notification,
        "statusAt": truncate(record.statusAt),
        **{k: truncate(v) if (v := getattr(record, k)) is not None else None
           for k in _STATES},
    })


_STATES = ("seenAt", "readAt", "archivedAt")


def merge(older: StoredNotification, newer: StoredNotification) -> StoredNotification:
    """The upsert rule: ``acked`` is never downgraded to ``expired``; the first ``readAt`` is
    kept, and one that comes with an ``expired`` record is taken even when the stored row is
    ``acked`` (a mark-read of a stored notification carries the status it read). A higher
    ``version`` (a digest's update) wins the notification and its states (unseen, unread,
    unarchived again); an older one changes neither. ``seenAt`` follows ``readAt``'s rule;
    ``archivedAt`` is the stored one's (only an insert takes it from the record written: an
    unarchive is never undone by an entry upserted again)."""
    kept = older if older.status is Status.ACKED and newer.status is not Status.ACKED else newer
    if newer.notification.version > older.notification.version:
        return kept.model_copy(update={"notification": newer.notification,
                                       **{k: getattr(newer, k) for k in _STATES}})
    if newer.notification.version < older.notification.version:
        return kept.model_copy(update={"notification": older.notification,
                                       **{k: getattr(older, k) for k in _STATES}})
    return kept.model_copy(update={"seenAt": older.seenAt or newer.seenAt,
                                   "readAt": older.readAt or newer.readAt,
                                   "archivedAt": older.archivedAt})
