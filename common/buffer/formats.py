"""Every member and stream-entry format of the buffer, encode and decode side by side.

* **Expiry index member** (``{prefix}:expiry``): ``tenant|user|notification id``, scored by
  ``expiresAt`` (epoch ms). Written by the consumer's buffering, read by the sweeper.
* **Erasure index member** (``{prefix}:erasures``): ``tenant|user``, scored by the erasure
  time (epoch ms).
* **Persist-stream entry** (``{prefix}:persist``): ``n`` = the notification JSON, ``s`` =
  ``acked`` | ``expired``, ``t`` = epoch ms when it became so, and the inbox states a mark
  set (issue 20; each absent otherwise): ``r`` = read, ``v`` = seen ("viewed"), ``a`` =
  archived, epoch ms. The Lua scripts (:mod:`common.buffer.scripts`)
  write the same fields; :func:`encode_entry` is their Python twin (tests, the benchmark).
* **Pending hash field** (``{prefix}:pending:{tenant:user}``): notification id -> the
  notification JSON, exactly as the consumer made it (the gateway sends it unchanged).

Ids are validated to ``[A-Za-z0-9._@-]``, so ``|`` never appears inside a part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from common.millis import to_ms
from common.models import Notification
from common.records import Status
from common.rows import Row, make_row

__all__ = [
    "MAX_MS",
    "MIN_MS",
    "ExpiryMember",
    "decode_entry",
    "encode_entry",
    "entry_belongs",
    "erasure_member",
    "expiry_member",
    "parse_erasure_member",
    "parse_expiry_member",
]

MIN_MS = to_ms(datetime.min.replace(tzinfo=UTC))
MAX_MS = to_ms(datetime.max.replace(tzinfo=UTC))
"""The ``t`` (and ``r``) a store can keep: any ``datetime`` (years 1 to 9999)."""


# --- expiry index ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExpiryMember:
    """One member of the expiry index, parsed, with its score."""

    member: bytes
    tenant: str
    user: str
    notification_id: str
    expires_ms: int


def expiry_member(tenant_id: str, user_id: str, notification_id: str) -> str:
    return f"{tenant_id}|{user_id}|{notification_id}"


def parse_expiry_member(member: bytes, score: float) -> ExpiryMember | None:
    """The parsed member, or ``None`` if it is not three non-empty parts (dropped)."""
    parts = member.decode(errors="replace").split("|")
    if len(parts) != 3 or not all(parts):
        return None
    return ExpiryMember(member, parts[0], parts[1], parts[2], int(score))


# --- erasure index --------------------------------------------------------------------------
def erasure_member(tenant_id: str, user_id: str) -> str:
    return f"{tenant_id}|{user_id}"


def parse_erasure_member(member: bytes | str) -> tuple[str, str] | None:
    text = member.decode(errors="replace") if isinstance(member, bytes) else member
    tenant, sep, user = text.partition("|")
    return (tenant, user) if sep and tenant and user and "|" not in user else None


# --- persist stream -------------------------------------------------------------------------
def encode_entry(notification_json: str | bytes, status: Status, at_ms: int,
                 read_ms: int | None = None, seen_ms: int | None = None,
                 archived_ms: int | None = None) -> dict[str, str]:
    """The fields of one entry (what the ack/expire scripts write)."""
    body = notification_json.decode() if isinstance(notification_json, bytes) else notification_json
    fields = {"n": body, "s": status.value, "t": str(at_ms)}
    for name, ms in (("r", read_ms), ("v", seen_ms), ("a", archived_ms)):
        if ms is not None:
            fields[name] = str(ms)
    return fields


_STATUSES = {s.value.encode(): s.value for s in (Status.ACKED, Status.EXPIRED)}
_validate_json = Notification.model_validate_json


def _ms(raw: bytes, name: str) -> int:
    try:
        at_ms = int(raw)
    except ValueError:
        raise ValueError(f"malformed stream entry: {name} {raw[:40]!r} is not an integer "
                         "(epoch ms)") from None
    if not MIN_MS <= at_ms <= MAX_MS:
        raise ValueError(f"malformed stream entry: {name} {raw[:40]!r} is out of range")
    return at_ms


def decode_entry(fields: Mapping[bytes, bytes]) -> Row:
    """The store row of one entry's fields (as Redis returns them, bytes); raises
    ``ValueError`` (pydantic's ``ValidationError`` is one) saying what is wrong.

    The persister's hot path: one validation of the notification, then a tuple."""
    try:
        body, raw_status, raw_at = fields[b"n"], fields[b"s"], fields[b"t"]
    except KeyError as exc:
        raise ValueError(f"malformed stream entry: no field {exc.args[0]!r}") from None
    status = _STATUSES.get(raw_status)
    if status is None:
        raise ValueError(f"malformed stream entry: status {raw_status[:40]!r} is not acked or "
                         "expired")
    at_ms = _ms(raw_at, "t")
    raw_read, raw_seen, raw_archived = fields.get(b"r"), fields.get(b"v"), fields.get(b"a")
    read_ms = _ms(raw_read, "r") if raw_read is not None else None
    seen_ms = _ms(raw_seen, "v") if raw_seen is not None else None
    archived_ms = _ms(raw_archived, "a") if raw_archived is not None else None
    return make_row(_validate_json(body), status, at_ms, read_ms, seen_ms, archived_ms)


def entry_belongs(fields: Any, needle_user: bytes, tenant_id: str, user_id: str) -> bool:
    """Whether a persist-stream entry's notification is the user's. ``needle_user`` is
    ``"userId":"<user>"`` as JSON bytes: a cheap filter before the entry is parsed."""
    body = (fields or {}).get(b"n") or (fields or {}).get("n")
    if not body:
        return False
    raw = body if isinstance(body, bytes) else str(body).encode()
    if needle_user not in raw:  # cheap filter: most entries are someone else's
        return False
    try:
        note = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(note, dict) and note.get("userId") == user_id and \
        note.get("tenantId") == tenant_id
