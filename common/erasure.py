"""The erasure rule that needs no Redis: which stored rows an erasure covers.

What an erasure does in Redis, and why a tombstone: :mod:`common.buffer.erasure`.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.rows import Row

__all__ = ["stale_rows"]


def stale_rows(rows: Sequence[Row], erased: dict[tuple[str, str], int]) -> list[int]:
    """Positions of the rows an erasure covers: their user was erased at or after the
    notification was created. Pure."""
    if not erased:
        return []
    return [n for n, row in enumerate(rows)
            if (at := erased.get((row.tenant_id, row.user_id))) is not None
            and row.created_ms <= at]
