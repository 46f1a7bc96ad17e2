"""What the gateway and the persister pass through the persist stream, and what the store
keeps: a notification with its terminal status.

The persist-stream entry format (encode and decode) is the buffer owner's:
:mod:`common.buffer.formats`. The store's upsert is idempotent, and ``acked`` wins over
``expired`` whichever comes last.

**Inbox states** (issue 20): ``seenAt`` (the bell's badge counts the unseen), ``readAt`` and
``archivedAt``, each the time it was first set. They nest — **read implies seen, archived
implies read** (and so seen): marking read sets ``seenAt`` too if unset, archiving sets all
three. Unarchiving clears ``archivedAt`` only (the notification stays read). So the unseen
and unread counts never count an archived notification, and a badge cannot count what the
default history hides. A digest's update (a higher ``version``) clears all three: new
activity comes back to the inbox unseen and unread (:func:`common.rows.merge`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from common.models import Notification, UtcDatetime

__all__ = ["InboxCounts", "Mark", "Status", "StoredNotification"]


class Status(StrEnum):
    PENDING = "pending"
    ACKED = "acked"
    EXPIRED = "expired"


class Mark(StrEnum):
    """What a caller marks: the first three set their state (and the ones it implies), the
    last clears ``archivedAt``."""

    SEEN = "seen"
    READ = "read"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"

    @property
    def sets(self) -> tuple[str, ...]:
        """The states this mark sets when unset (``seen``, ``read``, ``archived``)."""
        return _SETS[self]


_SETS: dict[Mark, tuple[str, ...]] = {
    Mark.SEEN: ("seen",), Mark.READ: ("seen", "read"),
    Mark.ARCHIVED: ("seen", "read", "archived"), Mark.UNARCHIVED: (),
}


class InboxCounts(NamedTuple):
    """A user's badge figures: notifications not seen, and not read (archived ones are
    neither: archived implies read)."""

    unseen: int
    unread: int


class StoredNotification(BaseModel):
    """A notification in its terminal place (or, for the read API, still ``pending``)."""

    model_config = ConfigDict(frozen=True)

    notification: Notification
    status: Status
    statusAt: UtcDatetime
    readAt: UtcDatetime | None = None
    seenAt: UtcDatetime | None = None
    archivedAt: UtcDatetime | None = None
