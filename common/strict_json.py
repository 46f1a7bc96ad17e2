"""JSON parsing that refuses a duplicated key, at any depth, and stays fast.

orjson (like most parsers) keeps the last of two equal keys in one object, so
``{"actorId": "alice", "actorId": "mallory"}`` would be read as whatever the last one says while
a proxy or a log may have read the first. Herald refuses such a document instead.

orjson cannot say whether it met a duplicate, so the check is a count of string tokens. In
JSON text every structural ``"`` opens or closes a string, and every string is a key or a
value: the raw text holds ``quotes / 2`` strings (escaped quotes taken out first), the parsed
value the keys and string values that survived. The two differ exactly when some object held
a key twice (the dropped key is a string that is gone). Two C-speed byte counts and one walk
of the parsed value: about 1 us for an event, against 16 us for a regular-expression scan.
Only when they differ is the document parsed again, slowly, to name the key and where it is.
The count is only meaningful on text orjson has accepted as JSON, which is why it runs after.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import orjson

__all__ = ["DuplicateKey", "loads"]

class DuplicateKey(ValueError):
    """A JSON object holds ``key`` twice; ``path`` is where (``events.2.actorId``), or the key
    alone when the document is too deep to name the place."""

    def __init__(self, key: str, path: str) -> None:
        super().__init__(f"key {key[:100]!r} appears twice in one object (at {path[:200]})")
        self.key, self.path = key, path


def loads(data: bytes | str) -> Any:
    """``data`` parsed as JSON; :class:`orjson.JSONDecodeError` (a ``ValueError``) when it is
    not JSON, :class:`DuplicateKey` when an object holds a key twice."""
    value = orjson.loads(data)
    if (type(value) is dict or type(value) is list) and 2 * _strings(value) != _quotes(data):
        raise _find_duplicate(data.encode() if isinstance(data, str) else data)
    return value


def _quotes(data: bytes | str) -> int:
    """The structural ``"`` of valid JSON text: all of them, less the escaped ones. Escapes
    are read left to right, and the only one whose second character is a backslash is
    ``\\\\``: removing those first leaves exactly the escaped quotes as ``\\"``."""
    if isinstance(data, str):
        if "\\" in data:
            data = data.replace("\\\\", "").replace('\\"', "")
        return data.count('"')
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    return data.count(b'"')


def _strings(value: dict[str, Any] | list[Any]) -> int:
    """The keys and string values of ``value``, nested ones too; iterative, as orjson allows
    1024 levels."""
    count = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            item = item.values()
        for child in item:
            kind = type(child)
            if kind is str:
                count += 1
            elif kind is dict or kind is list:
                stack.append(child)
    return count


class _Pairs(list[tuple[str, Any]]):
    """An object as its key/value pairs, in order, duplicates kept."""


def _find_duplicate(raw: bytes) -> DuplicateKey:
    """The first duplicated key of a document the key count flagged (the slow path)."""
    try:
        tree = json.loads(raw, object_pairs_hook=_Pairs)
    except RecursionError:
        tree = None
    if tree is not None:
        queue: deque[tuple[Any, str]] = deque([(tree, "")])
        while queue:
            item, path = queue.popleft()
            if isinstance(item, _Pairs):
                seen: set[str] = set()
                for key, child in item:
                    where = f"{path}.{key}" if path else key
                    if key in seen:
                        return DuplicateKey(key, where)
                    seen.add(key)
                    queue.append((child, where))
            elif isinstance(item, list):
                queue.extend((child, f"{path}.{i}" if path else str(i))
                             for i, child in enumerate(item))
    return DuplicateKey("?", "a nested object")
