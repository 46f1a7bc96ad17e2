"""Quiet hours: whether a user's night is on now, and the instant it ends. Pure, no I/O.

A user's quiet hours are two local wall times, ``start`` and ``end``, in the user's profile
time zone (an IANA name, read with :mod:`zoneinfo`; unset means UTC). The rule:

* **One interval per local date.** The quiet hours that begin on local date *D* are the
  instants from ``at(D, start)`` up to (not including) ``at(D', end)``, where *D'* is *D*
  when ``start < end`` and the day after when ``start > end`` (a window across midnight,
  ``22:00`` to ``07:00``). ``start == end`` means **no quiet hours** (never a 24-hour night).
* **``at(date, wall)``** is the first instant at which the local clock shows ``wall`` on
  ``date`` *or later*:

  - an ordinary wall time: its one instant;
  - a wall time a DST change **repeats** (a fold, clocks going back): its *first* occurrence,
    so quiet hours that end at ``02:30`` on a fall-back night end the first time the clock
    reads ``02:30`` and do not start again when it reads ``02:30`` a second time;
  - a wall time a DST change **skips** (a gap, clocks going forward): the instant of the
    change, when the clock jumps past it — quiet hours ending at ``02:30`` on a spring-forward
    night in Berlin end at 03:00 CEST; quiet hours starting in a gap start at the change.

  ``at`` never decreases as ``(date, wall)`` grows, so the intervals of consecutive dates
  never overlap, and an interval whose two ends fall in the same gap is empty (not quiet).
* **Quiet now** means ``now`` lies in one of those intervals; :func:`quiet_until` then answers
  the interval's end — always after ``now``, and at most 24 hours plus the zone's DST shift
  after it (one hour; 30 minutes on Lord Howe Island) — else ``None``.

Held notifications are released at that end (:mod:`consumer.release`), and checked again
then with the profile of that moment: a user who changed zone or quiet hours meanwhile is
judged by the new ones.

The user's quiet hours are :class:`common.preferences.QuietHours` (parsed and validated
there); anything with ``start`` and ``end`` wall times is accepted (:class:`Window`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Window", "quiet_until", "zone_of"]

_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)


class Window(Protocol):
    """What :func:`quiet_until` reads of quiet hours: two local wall times."""

    @property
    def start(self) -> time: ...

    @property
    def end(self) -> time: ...


def zone_of(name: str | None) -> tzinfo:
    """The time zone of an IANA name (``None`` or ``""``: UTC); ``ValueError`` naming it when
    the name is not a zone this machine's tz database knows."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as "
                         "'Europe/Berlin' is expected)") from exc


def quiet_until(quiet: Window | None, time_zone: str | tzinfo | None,
                now: datetime) -> datetime | None:
    """The UTC instant the quiet hours that hold ``now`` end, or ``None`` when ``now`` is not
    in quiet hours (or there are none: ``quiet`` is ``None`` or ``start == end``).

    ``time_zone``: an IANA name, a ``tzinfo``, or ``None`` (UTC). ``now`` must be aware.
    Raises ``ValueError`` for a naive ``now``, a zone-aware start/end or an unknown zone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if quiet is None:
        return None
    start, end = quiet.start, quiet.end
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("quiet hours are local wall times: start and end carry no zone")
    if start == end:
        return None
    zone = time_zone if isinstance(time_zone, tzinfo) else zone_of(time_zone)
    now = now.astimezone(UTC)
    today = now.astimezone(zone).date()
    crosses = start > end
    # Which local date's interval may hold now: yesterday's (a window across midnight, or a
    # fold at midnight), today's, and tomorrow's (now in a repeated hour before midnight).
    for day in (today - _DAY, today, today + _DAY):
        begins = _at(day, start, zone)
        if begins > now:
            continue
        ends = _at(day + _DAY if crosses else day, end, zone)
        if now < ends:
            return ends
    return None


def _at(day: date, wall: time, zone: tzinfo) -> datetime:
    """The first UTC instant at which the clock of ``zone`` shows ``day`` ``wall`` or later
    (the module docstring's ``at``)."""
    target = datetime.combine(day, wall)
    first = target.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local(first, zone) == target:
        return first  # an ordinary wall time, or a fold's first occurrence
    # A gap: fold=0 reads it with the offset before the change (an instant after the change),
    # fold=1 with the offset after (an instant before it). The change lies between; the clock
    # shows less than target before it and more after it, so a bisection on whole seconds
    # finds it (tz changes fall on whole seconds).
    low = target.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    if _local(low, zone) >= target:
        return low
    steps = 0
    while high - low > _SECOND and steps < 64:  # a gap is hours long: ~15 steps
        middle = low + ((high - low) // 2 // _SECOND) * _SECOND
        if _local(middle, zone) >= target:
            high = middle
        else:
            low = middle
        steps += 1
    return high


def _local(instant: datetime, zone: tzinfo) -> datetime:
    """The naive local wall time of ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)
