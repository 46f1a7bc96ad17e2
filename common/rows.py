"""``Row``: a notification in its terminal state as both store backends write it.

The persister writes tens of thousands of these a second, so a row is a plain tuple, not a
pydantic model: ids and millisecond times taken out for the columns and the filters, and the
notification's fields (validated before, timestamps already cut to the millisecond, as UTC
``datetime``) for the document or the JSON body. Building one costs a tuple; copying or
re-validating a model per record cost the persister a third of its time.

Rows come from a validated :class:`~common.models.Notification` (:func:`make_row`), from a
:class:`~common.records.StoredNotification` (:func:`row_of`, the read API and tests) or from
a persist-stream entry (``persister.entries``). :func:`merge` is the upsert rule (acked
is never downgraded, ``seenAt``/``readAt``/``archivedAt`` are kept, a higher ``version`` wins
the body and makes it unseen, unread and unarchived again) on rows; :func:`collapse` applies
it to a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from common.millis import to_ms
from common.models import Notification
from common.records import Status, StoredNotification

__all__ = ["Row", "collapse", "make_row", "merge", "row_of", "version_of"]

_ACKED = Status.ACKED.value


class Row(NamedTuple):
    id: str
    tenant_id: str
    user_id: str
    created_ms: int
    status: str
    """``Status.ACKED.value`` or ``Status.EXPIRED.value`` (``pending`` only from the read API's
    own records)."""
    status_ms: int
    read_ms: int | None
    notification: dict[str, Any]
    """Every field of the notification (``None`` for an absent optional one), as validated,
    enums as their plain string values; ``createdAt`` and ``expiresAt`` are UTC ``datetime``
    cut to the millisecond. Not to be changed: nothing copies it."""
    seen_ms: int | None = None
    archived_ms: int | None = None
    """The inbox states beside ``read_ms`` (issue 20, :mod:`common.records`); last, so that
    the fields before keep their places (the SQLite batch reads them by position)."""


def _cut(value: datetime) -> datetime:
    """``value`` (UTC) cut to the millisecond; the same object when it already is."""
    micro = value.microsecond % 1000
    return value.replace(microsecond=value.microsecond - micro) if micro else value


def make_row(
    notification: Notification, status: str, status_ms: int, read_ms: int | None = None,
    seen_ms: int | None = None, archived_ms: int | None = None,
) -> Row:
    """The row of a validated notification (its timestamps are cut to the millisecond here)."""
    # A model's fields are its __dict__ (pydantic v2); dict(model) would first look for a
    # .keys() through the model's __getattr__ and its AttributeError: 7 % of the persister.
    fields = notification.__dict__.copy()
    fields["type"] = str(notification.type)
    fields["priority"] = notification.priority.value
    created = fields["createdAt"] = _cut(notification.createdAt)
    fields["expiresAt"] = _cut(notification.expiresAt)
    return Row(notification.id, notification.tenantId, notification.userId, to_ms(created),
               status, status_ms, read_ms, fields, seen_ms, archived_ms)


def _ms(value: datetime | None) -> int | None:
    return to_ms(value) if value is not None else None


def row_of(record: StoredNotification) -> Row:
    return make_row(record.notification, record.status.value, to_ms(record.statusAt),
                    _ms(record.readAt), _ms(record.seenAt), _ms(record.archivedAt))


def version_of(row: Row) -> int:
    """The notification's ``version`` (1 for a body stored before digests had one)."""
    version = row.notification.get("version")
    return version if isinstance(version, int) else 1


def merge(stored: Row, incoming: Row) -> Row:
    """The upsert rule, on rows: what the store keeps when ``incoming`` is written over
    ``stored`` (the same id). Both backends apply it (SQL, MongoDB's update pipeline).

    * **Status**: ``acked`` is never replaced by another status.
    * **Version** (digests, :mod:`common.buffer.digest`): the body of the higher ``version``
      wins — its ``message``, ``count``, ``actors`` and ``version``, whatever the statuses —
      and its ``seen_ms``, ``read_ms`` and ``archived_ms`` with it: **an update makes the
      notification unseen, unread and unarchived again** (the marks of an older version do
      not cover the newer text; new activity comes back to the inbox and to the badge). An
      older version changes neither the body nor the states.
    * **Same version**: ``seen_ms`` and ``read_ms`` once set are kept (else taken from
      ``incoming``); ``archived_ms`` is the stored row's, set or not — only an insert takes
      it from the row written. The one writer of an archived row is a mark of a pending
      notification: its row is upserted at once (:mod:`common.inbox`) and its stream entry
      upserted again later by the persister; an unarchive (the store's ``mark``, which
      clears ``archived_ms``) between the two must not be undone by the second. The body
      follows the status rule.
    """
    new_v, old_v = version_of(incoming), version_of(stored)
    kept = stored.status == _ACKED and incoming.status != _ACKED
    base = stored if kept else incoming
    if new_v > old_v:
        return base._replace(notification=incoming.notification, read_ms=incoming.read_ms,
                             seen_ms=incoming.seen_ms, archived_ms=incoming.archived_ms)
    if new_v < old_v:
        return base._replace(notification=stored.notification, read_ms=stored.read_ms,
                             seen_ms=stored.seen_ms, archived_ms=stored.archived_ms)
    return base._replace(read_ms=_first(stored.read_ms, incoming.read_ms),
                         seen_ms=_first(stored.seen_ms, incoming.seen_ms),
                         archived_ms=stored.archived_ms)


def _first(stored: int | None, incoming: int | None) -> int | None:
    return stored if stored is not None else incoming


def collapse(rows: Iterable[Row]) -> list[Row]:
    """One row per id, merged in the order given (as if upserted one by one, :func:`merge`).

    MongoDB needs this: an unordered ``bulk_write`` may apply two writes of one id in any
    order. (SQLite applies the rows of a batch in order, each under the SQL rule.) Applying
    the collapsed row to what is stored gives what applying the rows one by one gives. A
    ``read_ms`` comes from a mark-read entry (``r``): an ``acked`` one for a notification
    that was pending, or one with the stored row's own status for one already stored — so
    an ``expired`` row's ``read_ms`` is kept even where its status is not.
    """
    merged: dict[str, Row] = {}
    for row in rows:
        earlier = merged.get(row.id)
        merged[row.id] = row if earlier is None else merge(earlier, row)
    return list(merged.values())
