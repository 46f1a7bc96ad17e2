"""The opaque ``history`` cursor: the position after the last notification of a page.

It encodes ``(createdAt in epoch ms, id)`` as URL-safe base64 of a JSON pair, so it travels
in a query string untouched and both backends read it alike. It carries nothing secret and
grants nothing: a cursor only narrows a query that is already limited to its caller's user.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from common.store.base import InvalidCursor

__all__ = ["decode_cursor", "encode_cursor"]

_MAX_CURSOR = 512


def encode_cursor(created_ms: int, notification_id: str) -> str:
    raw = orjson.dumps([created_ms, notification_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """``(created_ms, id)``; raises :class:`InvalidCursor` for anything ``encode_cursor`` did
    not make."""
    if not cursor or len(cursor) > _MAX_CURSOR:
        raise InvalidCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API made") from exc
    match value:
        case [int(ms), str(notification_id)] if notification_id and not isinstance(ms, bool):
            return ms, notification_id
    raise InvalidCursor("cursor is not one this API made")
