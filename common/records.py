"""What the gateway and the persister pass through the persist stream, and what the store
keeps: a notification with its terminal status.

Stream entry (``{prefix}:persist``): ``{"n": <notification JSON>, "s": "acked"|"expired",
"t": <epoch ms when it became so>}``. Writers add entries before they remove the notification
from the buffer, so a crash in between leaves a duplicate entry, never a missing one; the
store's upsert is idempotent, and ``acked`` wins over ``expired`` whichever comes last.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from common.models import Notification, UtcDatetime

__all__ = ["Status", "StoredNotification", "encode_entry"]


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


def encode_entry(notification_json: str | bytes, status: Status, at_ms: int) -> dict[str, str]:
    body = notification_json.decode() if isinstance(notification_json, bytes) else notification_json
    return {"n": body, "s": status.value, "t": str(at_ms)}
