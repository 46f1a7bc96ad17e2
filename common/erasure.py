"""The erasure rules that need no Redis: which stored rows an erasure covers, and (re-exported
from the buffer's owner, :mod:`common.buffer`) the member formats and the Redis side.

What an erasure does in Redis, and why a tombstone: :mod:`common.buffer.erasure`.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.buffer.erasure import (
    DEFAULT_TOMBSTONE_SECONDS,
    SCAN_COUNT,
    STREAM_PAGE,
    ErasureIndex,
    RedisErased,
    RedisErasure,
)
from common.buffer.formats import entry_belongs
from common.buffer.formats import erasure_member as index_member
from common.buffer.keys import glob_escape
from common.store.rows import Row

__all__ = [
    "DEFAULT_TOMBSTONE_SECONDS",
    "SCAN_COUNT",
    "STREAM_PAGE",
    "ErasureIndex",
    "RedisErased",
    "RedisErasure",
    "entry_belongs",
    "glob_escape",
    "index_member",
    "stale_rows",
]


def stale_rows(rows: Sequence[Row], erased: dict[tuple[str, str], int]) -> list[int]:
    """Positions of the rows an erasure covers: their user was erased at or after the
    notification was created. Pure."""
    if not erased:
        return []
    return [n for n, row in enumerate(rows)
            if (at := erased.get((row.tenant_id, row.user_id))) is not None
            and row.created_ms <= at]
