"""The one formatter of pydantic errors, for every service.

:func:`problems` turns a :class:`~pydantic.ValidationError` into ``(field, message, type)``
items — the field a dotted path (``body`` for a rule over the whole model), the message
without pydantic's ``Value error,`` prefix, never the input itself (it may be huge or
secret). The HTTP API lists them as ``details``; logs, dead-letter details and settings
errors join them into one line with :func:`one_line`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

__all__ = ["Problem", "one_line", "problems"]


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str
    type: str


def problems(exc: ValidationError, limit: int | None = None,
             whole: str = "body") -> list[Problem]:
    """The first ``limit`` errors (all with ``None``); ``whole`` names model-level rules."""
    items = exc.errors(include_url=False, include_input=False)
    if limit is not None:
        items = items[:limit]
    return [
        Problem(".".join(str(p) for p in item["loc"]) or whole,
                item["msg"].removeprefix("Value error, "), item["type"])
        for item in items
    ]


def one_line(exc: ValidationError, limit: int = 5, whole: str = "body",
             upper: bool = False) -> str:
    """``field: message; field: message`` over the first ``limit`` errors (``upper`` for
    settings, which are named by their environment variable)."""
    return "; ".join(
        f"{p.field.upper() if upper else p.field}: {p.message}"
        for p in problems(exc, limit, whole)
    )
