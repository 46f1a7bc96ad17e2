"""What the gateway and the persister pass through the persist stream, and what the store
keeps: a notification with its terminal status.

The persist-stream entry format (encode and decode) is the buffer owner's:
:mod:`common.buffer.formats`. The store's upsert is idempotent, and ``acked`` wins over
``expired`` whichever comes last.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from common.models import Notification, UtcDatetime

__all__ = ["Status", "StoredNotification"]


class Status(StrEnum):
    PENDING = "pending"
    ACKED = "acked"
    EXPIRED = "expired"


class StoredNotification(BaseModel):
    """A notification in its terminal place (or, for the read API, still ``pending``)."""

    model_config = ConfigDict(frozen=True)

    notification: Notification
    status: Status
    statusAt: UtcDatetime
    readAt: UtcDatetime | None = None

