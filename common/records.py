"""What the gateway and the persister pass through the persist stream, and what the store
keeps: a notification with its terminal status.

Stream entry (``{prefix}:persist``): ``{"n": <notification JSON>, "s": "acked"|"expired",
"t": <epoch ms when it became so>}``. Writers add entries before they remove the notification
from the buffer, so a crash in between leaves a duplicate entry, never a missing one; the
store's upsert is idempotent, and ``acked`` wins over ``expired`` whichever comes last.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from common.models import Notification, UtcDatetime

__all__ = ["Status", "StoredNotification", "decode_entry", "encode_entry"]


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

    def merge(self, newer: StoredNotification) -> StoredNotification:
        """Upsert rule: ``acked`` is never downgraded to ``expired``; ``readAt`` is kept."""
        if self.status is Status.ACKED and newer.status is not Status.ACKED:
            return self
        return newer.model_copy(update={"readAt": self.readAt or newer.readAt})


def encode_entry(notification_json: str | bytes, status: Status, at_ms: int) -> dict[str, str]:
    body = notification_json.decode() if isinstance(notification_json, bytes) else notification_json
    return {"n": body, "s": status.value, "t": str(at_ms)}


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
