"""Quiet hours (:mod:`common.quiet_hours`): windows across midnight, the wall times a DST change
skips or repeats (Berlin, New York, Lord Howe's 30-minute shift), ``start == end`` as none,
and properties over any instant: the end is after ``now`` and at most a day plus the shift
away, an instant inside the interval sees the same end, the end itself is not quiet."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.preferences import QuietHours
from common.quiet_hours import quiet_until, zone_of

pytestmark = pytest.mark.unit

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
ZONES = [BERLIN, NEW_YORK, LORD_HOWE, "UTC", "Asia/Kolkata", "America/Santiago",
         "Pacific/Chatham", "Europe/London", "America/St_Johns"]
NIGHT = QuietHours(time(22, 0), time(7, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0,
          second: int = 0, *, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)


# --- ordinary days ------------------------------------------------------------------------
def test_a_window_across_midnight_holds_the_evening_and_the_early_morning() -> None:
    ends = local(BERLIN, 2025, 1, 15, 7, 0).astimezone(UTC)
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 14, 22, 0)) == ends
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 14, 23, 59)) == ends
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 15, 0, 0)) == ends
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 15, 6, 59, 59)) == ends
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 15, 7, 0)) is None
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 15, 12, 0)) is None
    assert quiet_until(NIGHT, BERLIN, local(BERLIN, 2025, 1, 14, 21, 59, 59)) is None


def test_a_window_within_one_day() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert quiet_until(lunch, None, utc(2025, 3, 3, 12, 15)) == utc(2025, 3, 3, 13, 30)
    assert quiet_until(lunch, None, utc(2025, 3, 3, 13, 30)) is None
    assert quiet_until(lunch, None, utc(2025, 3, 3, 11, 59)) is None


def test_equal_start_and_end_and_none_mean_no_quiet_hours() -> None:
    for at in (utc(2025, 1, 1, 0, 0), utc(2025, 1, 1, 22, 0), utc(2025, 6, 1, 13, 0)):
        assert quiet_until(QuietHours(time(22, 0), time(22, 0)), BERLIN, at) is None
        assert quiet_until(None, BERLIN, at) is None


def test_the_zone_decides_and_unset_means_utc() -> None:
    at = utc(2025, 1, 15, 4, 0)  # 05:00 in Berlin, 23:00 the day before in New York
    assert quiet_until(NIGHT, None, at) == utc(2025, 1, 15, 7, 0)
    assert quiet_until(NIGHT, "", at) == utc(2025, 1, 15, 7, 0)
    assert quiet_until(NIGHT, BERLIN, at) == utc(2025, 1, 15, 6, 0)
    assert quiet_until(NIGHT, NEW_YORK, at) == utc(2025, 1, 15, 12, 0)
    assert quiet_until(NIGHT, ZoneInfo(NEW_YORK), at) == utc(2025, 1, 15, 12, 0)
    assert quiet_until(NIGHT, "Asia/Kolkata", at) is None  # 09:30 there


def test_a_user_who_changes_zone_is_judged_by_the_new_one() -> None:
    at = utc(2025, 1, 15, 22, 30)  # 23:30 in Berlin, 17:30 in New York
    assert quiet_until(NIGHT, BERLIN, at) == utc(2025, 1, 16, 6, 0)
    assert quiet_until(NIGHT, NEW_YORK, at) is None


def test_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        quiet_until(NIGHT, "Mars/Olympus", utc(2025, 1, 1))
    with pytest.raises(ValueError, match="unknown time zone"):
        zone_of("../etc/passwd")
    with pytest.raises(ValueError, match="aware"):
        quiet_until(NIGHT, BERLIN, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="wall times"):
        QuietHours(time(22, tzinfo=UTC), time(7))


# --- DST: gaps (clocks forward) and folds (clocks back) -------------------------------------
def test_berlin_spring_forward_an_end_the_clock_skips_ends_at_the_change() -> None:
    # 2025-03-30: 02:00 CET -> 03:00 CEST at 01:00 UTC; 02:30 never shows.
    quiet = QuietHours(time(22, 0), time(2, 30))
    at = local(BERLIN, 2025, 3, 29, 23, 0)
    assert quiet_until(quiet, BERLIN, at) == utc(2025, 3, 30, 1, 0)
    assert quiet_until(quiet, BERLIN, utc(2025, 3, 30, 1, 0)) is None  # 03:00 CEST


def test_berlin_spring_forward_a_start_the_clock_skips_starts_at_the_change() -> None:
    quiet = QuietHours(time(2, 30), time(6, 0))
    assert quiet_until(quiet, BERLIN, utc(2025, 3, 30, 0, 59, 59)) is None  # 01:59:59 CET
    assert quiet_until(quiet, BERLIN, utc(2025, 3, 30, 1, 0)) == utc(2025, 3, 30, 4, 0)


def test_berlin_spring_forward_a_window_inside_the_gap_is_empty_that_night() -> None:
    quiet = QuietHours(time(2, 10), time(2, 40))
    for minute in range(0, 120, 5):
        assert quiet_until(quiet, BERLIN, utc(2025, 3, 30, 0, 0) + timedelta(
            minutes=minute)) is None
    # the night after, it holds as usual
    assert quiet_until(quiet, BERLIN, local(BERLIN, 2025, 3, 31, 2, 20)) == local(
        BERLIN, 2025, 3, 31, 2, 40).astimezone(UTC)


def test_berlin_fall_back_a_repeated_end_ends_at_its_first_occurrence() -> None:
    # 2025-10-26: 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:00-02:59 shows twice.
    quiet = QuietHours(time(22, 0), time(2, 30))
    first = local(BERLIN, 2025, 10, 26, 2, 30, fold=0).astimezone(UTC)
    assert first == utc(2025, 10, 26, 0, 30)
    assert quiet_until(quiet, BERLIN, local(BERLIN, 2025, 10, 25, 23, 0)) == first
    # the second 02:10 (CET) is after the end: not quiet again
    second = local(BERLIN, 2025, 10, 26, 2, 10, fold=1)
    assert quiet_until(quiet, BERLIN, second) is None


def test_berlin_fall_back_the_night_is_an_hour_longer_in_real_time() -> None:
    at = local(BERLIN, 2025, 10, 25, 22, 0)
    ends = quiet_until(NIGHT, BERLIN, at)
    assert ends == local(BERLIN, 2025, 10, 26, 7, 0).astimezone(UTC)
    assert ends is not None
    assert ends - at.astimezone(UTC) == timedelta(hours=10)


def test_new_york_spring_forward_and_fall_back() -> None:
    # 2025-03-09: 02:00 EST -> 03:00 EDT at 07:00 UTC. 2025-11-02: 02:00 EDT -> 01:00 EST.
    quiet = QuietHours(time(23, 0), time(2, 15))
    assert quiet_until(quiet, NEW_YORK, local(NEW_YORK, 2025, 3, 9, 1, 0)) == utc(
        2025, 3, 9, 7, 0)
    quiet = QuietHours(time(1, 30), time(6, 0))
    # first 01:30 EDT starts it; the repeated 01:40 EST is still inside it
    assert quiet_until(quiet, NEW_YORK, local(NEW_YORK, 2025, 11, 2, 1, 29)) is None
    ends = local(NEW_YORK, 2025, 11, 2, 6, 0).astimezone(UTC)
    assert quiet_until(quiet, NEW_YORK, local(NEW_YORK, 2025, 11, 2, 1, 30)) == ends
    assert quiet_until(quiet, NEW_YORK, local(NEW_YORK, 2025, 11, 2, 1, 40, fold=1)) == ends


def test_lord_howe_thirty_minute_shift() -> None:
    # 2025-10-05: 02:00 LHST (+10:30) -> 02:30 LHDT (+11:00), at 15:30 UTC the day before.
    quiet = QuietHours(time(22, 0), time(2, 15))
    assert quiet_until(quiet, LORD_HOWE, local(LORD_HOWE, 2025, 10, 4, 23, 0)) == utc(
        2025, 10, 4, 15, 30)
    # 2025-04-06: 02:00 LHDT -> 01:30 LHST; 01:30-01:59 shows twice.
    quiet = QuietHours(time(22, 0), time(1, 45))
    first = local(LORD_HOWE, 2025, 4, 6, 1, 45, fold=0).astimezone(UTC)
    assert quiet_until(quiet, LORD_HOWE, local(LORD_HOWE, 2025, 4, 5, 22, 30)) == first
    assert quiet_until(quiet, LORD_HOWE, local(LORD_HOWE, 2025, 4, 6, 1, 35, fold=1)) is None


# --- properties -----------------------------------------------------------------------------
instants = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31),
                        timezones=st.just(UTC))
walls = st.times().map(lambda t: t.replace(microsecond=0))
windows = st.builds(QuietHours, walls, walls)
MINUTE = timedelta(minutes=1)


@settings(max_examples=400, deadline=None)
@given(quiet=windows, zone=st.sampled_from(ZONES), now=instants)
def test_the_end_is_after_now_and_within_a_day_and_an_hour(
    quiet: QuietHours, zone: str, now: datetime,
) -> None:
    ends = quiet_until(quiet, zone, now)
    if quiet.start == quiet.end:
        assert ends is None
    if ends is None:
        return
    assert now < ends <= now + timedelta(hours=25)
    assert ends.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(quiet=windows, zone=st.sampled_from(ZONES), now=instants,
       part=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_every_instant_of_the_interval_sees_the_same_end_and_the_end_is_not_inside_it(
    quiet: QuietHours, zone: str, now: datetime, part: float,
) -> None:
    ends = quiet_until(quiet, zone, now)
    if ends is None:
        return
    later = min(now + (ends - now) * part, ends - timedelta(microseconds=1))  # float rounding
    assert quiet_until(quiet, zone, later) == ends
    after = quiet_until(quiet, zone, ends)
    assert after is None or after > ends  # the next night, never this one again


@settings(max_examples=400, deadline=None)
@given(quiet=windows, zone=st.sampled_from(ZONES), now=instants)
def test_away_from_dst_changes_quiet_means_the_clock_is_in_the_window(
    quiet: QuietHours, zone: str, now: datetime,
) -> None:
    tz = ZoneInfo(zone)
    offsets = {(now + k * timedelta(hours=13)).astimezone(tz).utcoffset() for k in (-2, -1,
                                                                                 0, 1, 2)}
    if len(offsets) > 1:
        return  # a change within a day of now: the DST tests above and the others cover it
    clock = now.astimezone(tz).time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if start == end:
        inside = False
    ends = quiet_until(quiet, zone, now)
    assert (ends is not None) == inside
    if ends is not None:
        assert ends.astimezone(tz).time().replace(tzinfo=None) == end


@settings(max_examples=300, deadline=None)
@given(quiet=windows, zone=st.sampled_from([BERLIN, NEW_YORK, LORD_HOWE]),
       year=st.integers(2000, 2050), spring=st.booleans(), offset=st.integers(-600, 600))
def test_around_each_dst_change_the_end_is_on_the_wall_clock_or_at_the_change(
    quiet: QuietHours, zone: str, year: int, spring: bool, offset: int,
) -> None:
    tz = ZoneInfo(zone)
    change = _change(tz, year, first_half=spring)
    now = change + offset * MINUTE
    ends = quiet_until(quiet, zone, now)
    if ends is None:
        return
    assert now < ends <= now + timedelta(hours=25)
    shown = ends.astimezone(tz).time().replace(tzinfo=None)
    # the end shows on the clock, or the clock skipped it and the end is the change itself
    assert shown == quiet.end or ends == change


def _change(tz: ZoneInfo, year: int, *, first_half: bool) -> datetime:
    """The UTC instant of the zone's DST change in the first (or second) half of ``year``,
    found minute-exact by bisection."""
    low = datetime(year, 1, 1, tzinfo=UTC) if first_half else datetime(year, 7, 1, tzinfo=UTC)
    high = low + timedelta(days=182)
    before = low.astimezone(tz).utcoffset()
    assert high.astimezone(tz).utcoffset() != before
    while high - low > MINUTE:
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(second=0, microsecond=0)
