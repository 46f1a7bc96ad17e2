"""Typed views of Redis replies, for tests.

redis-py types every reply as ``bytes | str`` (and stream entries as possibly ``None``) because
the choice is made at run time by ``decode_responses``. The ``redis`` fixture decodes (str); a
raw client does not (bytes). These helpers narrow a reply to what the test's client returns,
failing loudly (not silently casting) when it is something else, and widen plain field dicts
to what ``XADD`` accepts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis.typing import EncodableT, FieldT

__all__ = ["as_bytes", "entries", "raw_entries", "stream_fields", "text", "text_fields", "texts"]

#: One stream entry as redis-py types it: ``(id, fields)``, either possibly ``None``.
Entry = tuple[object, Mapping[Any, Any] | None]


def text(value: object) -> str:
    """``value`` as a decoding client returns it: a ``str``."""
    assert isinstance(value, str), f"expected a decoded str reply, got {value!r}"
    return value


def as_bytes(value: object) -> bytes:
    """``value`` as a raw (non-decoding) client returns it: ``bytes``."""
    assert isinstance(value, bytes), f"expected a raw bytes reply, got {value!r}"
    return value


def texts(values: Iterable[object]) -> list[str]:
    return [text(v) for v in values]


def text_fields(fields: Mapping[Any, Any] | None) -> dict[str, str]:
    """The fields of one stream entry (or a hash) read by a decoding client."""
    assert fields is not None, "stream entry without fields"
    return {text(k): text(v) for k, v in fields.items()}


def entries(rows: Iterable[Entry] | None) -> list[tuple[str, dict[str, str]]]:
    """``XRANGE``'s reply read by a decoding client: ``(id, fields)`` per entry."""
    assert rows is not None, "no XRANGE reply"
    return [(text(entry_id), text_fields(fields)) for entry_id, fields in rows]


def raw_entries(rows: Iterable[Entry] | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """``XRANGE``'s reply read by a raw client: ``(id, fields)`` per entry, bytes."""
    assert rows is not None, "no XRANGE reply"
    found: list[tuple[bytes, dict[bytes, bytes]]] = []
    for entry_id, fields in rows:
        assert fields is not None, "stream entry without fields"
        found.append((as_bytes(entry_id), {as_bytes(k): as_bytes(v) for k, v in fields.items()}))
    return found


def stream_fields(fields: Mapping[str, EncodableT]) -> dict[FieldT, EncodableT]:
    """``fields`` as ``XADD`` takes them (its parameter is an invariant ``dict``)."""
    return dict(fields.items())
