"""Pure millisecond-timestamp rules shared by the buffer's entry format and both store backends.

No I/O here. (The merge rule lives in the backends, in SQL or an update pipeline, and for
rows of one batch in :func:`common.rows.collapse`.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["from_ms", "to_ms", "truncate"]

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
