"""A user's settings: profile (locale, time zone), per-type choices and quiet hours.

Pure (no I/O beyond reading the system's time-zone database); the store keeps them
(:mod:`common.store`), the producer edits them (``/v1/users/{userId}/profile`` and
``/preferences``) and the consumer reads them through :mod:`common.config_cache`.

The one rule of who receives a type, at make time and at release time alike
(:func:`allowed`): a transactional type is always on; otherwise the user's own choice for the
type, and where the user made none, the type's ``defaultEnabled`` (the tenant's default,
itself on unless the tenant turned it off). Unset means the default: a user who never chose
follows later changes of the tenant's default.

Quiet hours (:class:`QuietHours`) are two local wall-clock times, ``"22:00"`` to ``"07:00"``,
in the user's time zone (an IANA name, :func:`is_time_zone`; unset: UTC); a window across
midnight is the usual case. Equal start and end means no quiet hours (``common.quiet_hours``
computes the windows).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, TypeGuard

from common.catalog import TypeDef

__all__ = [
    "MAX_PREFERENCE_TYPES",
    "MAX_TIME_ZONE_CHARS",
    "TIME_PATTERN",
    "QuietHours",
    "UserSettings",
    "allowed",
    "is_time_zone",
]

TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
"""A wall-clock time of quiet hours: ``HH:MM``, 24-hour, ``00:00`` to ``23:59``."""
MAX_PREFERENCE_TYPES = 200
"""A user's choices name at most 200 types (a tenant has at most 200 of its own)."""
MAX_TIME_ZONE_CHARS = 64

_TIME = re.compile(TIME_PATTERN)


@functools.cache
def _zones() -> frozenset[str]:
    # Read once: available_timezones() walks the whole database.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def is_time_zone(value: object) -> TypeGuard[str]:
    """Whether ``value`` names a zone of the IANA database (``Europe/Berlin``, ``UTC``), as
    :func:`zoneinfo.available_timezones` lists them; a file path or ``localtime`` is not."""
    return isinstance(value, str) and len(value) <= MAX_TIME_ZONE_CHARS and value in _zones()


def _parse_time(text: object, name: str) -> time:
    if not isinstance(text, str) or _TIME.fullmatch(text) is None:
        raise ValueError(f"{name} must be HH:MM, 00:00 to 23:59")
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From ``start`` to ``end``, local wall time; ``start > end`` crosses midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall times: start and end carry no zone")

    @classmethod
    def parse(cls, start: object, end: object) -> QuietHours:
        """From ``"HH:MM"`` strings; ``ValueError`` naming ``start`` or ``end``."""
        return cls(_parse_time(start, "start"), _parse_time(end, "end"))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> QuietHours:
        return cls.parse(doc.get("start"), doc.get("end"))

    @property
    def empty(self) -> bool:
        """Equal start and end: no quiet hours."""
        return self.start == self.end

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@dataclass(frozen=True, slots=True)
class UserSettings:
    """What a user (or a key on their behalf) set. ``types`` maps a type name to on/off; a
    type not in it follows its default. ``updated_at`` is the last write of either part."""

    locale: str | None = None
    time_zone: str | None = None
    types: Mapping[str, bool] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    updated_at: datetime | None = None


def allowed(typedef: TypeDef, settings: UserSettings | None) -> bool:
    """Whether a notification of ``typedef`` may reach the user:
    ``typedef.transactional or settings.types.get(name, typedef.default_enabled)``."""
    if typedef.transactional:
        return True
    if settings is None:
        return typedef.default_enabled
    return bool(settings.types.get(typedef.name, typedef.default_enabled))
