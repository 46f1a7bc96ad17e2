"""JSON parsing that refuses a duplicated key, at any depth, and stays fast.

orjson (like most parsers) keeps the last of two equal keys in one object, so
``{"actorId": "alice", "actorId": "mallory"}`` would be read as whatever the last one says while
a proxy or a log may have read the first. Herald refuses such a document instead.

orjson cannot say whether it met a duplicate, so the check is a count: one regular-expression
scan of the raw text counts the keys it holds (a string token followed by ``:``), one walk of
the parsed value counts the keys that survived; they differ exactly when some object held a
key twice. Only then is the document parsed again, slowly, to name the key and where it is.
The scan is only meaningful on text orjson has accepted as JSON, which is why it runs after.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import orjson

__all__ = ["DuplicateKey", "loads"]

# A JSON string token (escapes included), then whether a ':' follows: a key. Applied to valid
# JSON only, left to right, a match always starts at the opening quote of a real string.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?')


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
    if isinstance(value, dict | list):
        raw = data.encode() if isinstance(data, str) else data
        keys = sum(1 for m in _STRING.finditer(raw) if m.group(1) is not None)
        if keys != _count_keys(value):
            raise _find_duplicate(raw)
    return value


def _count_keys(value: dict[str, Any] | list[Any]) -> int:
    """The keys of every object in ``value``; iterative, as orjson allows 1024 levels."""
    count = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        else:
            stack.extend(v for v in item if isinstance(v, dict | list))
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
