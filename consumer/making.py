"""What becomes of each recipient of an event, before anything is written (pure).

One rule, applied when the consumer takes an event *and* again when it releases a notification
held for quiet hours (:mod:`consumer.release`):

1. **Preferences** (:func:`common.preferences.allowed`): a transactional type is always on;
   otherwise the user's own choice for the type, else the type's ``defaultEnabled``. A
   notification a preference stops is :attr:`Verdict.MUTED`: counted and traced, never
   dead-lettered (nothing is wrong with the event).
2. **Quiet hours**: a type that does not break through is :attr:`Verdict.HELD` until the
   user's quiet hours end (``release_of`` computes it in the user's time zone, now).
3. Otherwise :attr:`Verdict.MAKE`, in the user's locale: the profile's, else the event's,
   else ``None`` (the tenant's default locale then applies, :mod:`common.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from common.catalog import TypeDef
from common.models import Event
from common.preferences import QuietHours, UserSettings, allowed

__all__ = ["Decision", "ReleaseOf", "Verdict", "decide", "locale_of", "never_quiet"]

ReleaseOf = Callable[[QuietHours, str | None, datetime], datetime | None]
"""``(quiet hours, IANA zone or None for UTC, now) -> when they end, or None when not
quiet now`` (:func:`common.quiet_hours.release_at`)."""


def never_quiet(quiet: QuietHours, zone: str | None, now: datetime) -> datetime | None:
    """A :data:`ReleaseOf` for which no one is ever in quiet hours."""
    return None


class Verdict(Enum):
    MAKE = "make"
    MUTED = "muted"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class Decision:
    recipient: str
    verdict: Verdict
    locale: str | None = None
    release_at: datetime | None = None


def locale_of(event: Event, settings: UserSettings | None) -> str | None:
    """The profile's locale, else the event's (``locale``), else ``None``."""
    if settings is not None and settings.locale:
        return settings.locale
    return event.locale


def decide(
    event: Event,
    typedef: TypeDef,
    recipients: list[str],
    users: Mapping[str, UserSettings],
    now: datetime,
    release_of: ReleaseOf,
) -> list[Decision]:
    """One :class:`Decision` per recipient, in order."""
    decisions: list[Decision] = []
    for recipient in recipients:
        settings = users.get(recipient)
        if not allowed(typedef, settings):
            decisions.append(Decision(recipient, Verdict.MUTED))
            continue
        quiet = settings.quiet_hours if settings is not None else None
        if quiet is not None and not quiet.empty and not typedef.breaks_through:
            assert settings is not None
            release = release_of(quiet, settings.time_zone, now)
            if release is not None:
                decisions.append(Decision(recipient, Verdict.HELD, release_at=release))
                continue
        decisions.append(Decision(recipient, Verdict.MAKE, locale_of(event, settings)))
    return decisions
