"""Persist-stream entries (:mod:`common.records`) decoded straight into store rows.

This is the persister's hot path: one pydantic validation of the notification (the same
:class:`~common.models.Notification` model every service uses, so the persister stores
exactly what the read API can read back), then a tuple (:class:`~common.store.rows.Row`).
No intermediate record, no model copies.

Any entry that is not what a gateway or a sweeper writes raises ``ValueError`` with what is
wrong (pydantic's ``ValidationError`` is one); the worker dead-letters it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from common.models import Notification
from common.records import Status
from common.store.rows import Row, make_row
from common.store.rules import to_ms

__all__ = ["MAX_MS", "MIN_MS", "decode"]

MIN_MS = to_ms(datetime.min.replace(tzinfo=UTC))
MAX_MS = to_ms(datetime.max.replace(tzinfo=UTC))
"""The ``t`` a store can keep: any ``datetime`` (years 1 to 9999)."""

_STATUSES = {s.value.encode(): s.value for s in (Status.ACKED, Status.EXPIRED)}
_validate_json = Notification.model_validate_json


def decode(fields: Mapping[bytes, bytes]) -> Row:
    """The row of one entry's fields (as Redis returns them, bytes); raises ``ValueError``."""
    try:
        body, raw_status, raw_at = fields[b"n"], fields[b"s"], fields[b"t"]
    except KeyError as exc:
        raise ValueError(f"malformed stream entry: no field {exc.args[0]!r}") from None
    status = _STATUSES.get(raw_status)
    if status is None:
        raise ValueError(f"malformed stream entry: status {raw_status[:40]!r} is not acked or "
                         "expired")
    try:
        at_ms = int(raw_at)
    except ValueError:
        raise ValueError(f"malformed stream entry: t {raw_at[:40]!r} is not an integer "
                         "(epoch ms)") from None
    if not MIN_MS <= at_ms <= MAX_MS:
        raise ValueError(f"malformed stream entry: t {raw_at[:40]!r} is out of range")
    return make_row(_validate_json(body), status, at_ms)
