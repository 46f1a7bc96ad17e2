from __future__ import annotations

import pytest

from common.store import InvalidCursor
from common.store.cursor import decode_cursor, encode_cursor

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("ms", "nid"), [(0, "a"), (1_767_225_600_123, "5f0c-…-é"),
                                         (-5, "x" * 128)])
def test_a_cursor_round_trips_and_is_url_safe(ms: int, nid: str) -> None:
    cursor = encode_cursor(ms, nid)
    assert decode_cursor(cursor) == (ms, nid)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("cursor", [
    "", "not base64 at all!", "bnVsbA", "W10", "WzEsMiwzXQ", "WyIxIiwiYSJd", "W3RydWUsImEiXQ",
    "WzEsIiJd", "x" * 513,
])
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_invalid_cursor_is_a_value_error() -> None:
    assert issubclass(InvalidCursor, ValueError)
