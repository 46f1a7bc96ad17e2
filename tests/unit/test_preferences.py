"""A user's settings (common.preferences): quiet hours, time zones, and the one rule of who
receives a type."""

from __future__ import annotations

from datetime import time

import pytest

from common.catalog import BUILTIN_TYPES, TypeDef
from common.preferences import QuietHours, UserSettings, allowed, is_time_zone

pytestmark = pytest.mark.unit


def test_quiet_hours_parse_and_print() -> None:
    quiet = QuietHours.parse("22:00", "07:30")
    assert (quiet.start, quiet.end) == (time(22), time(7, 30))
    assert quiet.to_json() == {"start": "22:00", "end": "07:30"}
    assert QuietHours.from_json(quiet.to_json()) == quiet
    assert not quiet.empty
    assert QuietHours.parse("00:00", "00:00").empty


@pytest.mark.parametrize(("start", "end", "field"), [
    ("24:00", "07:00", "start"), ("7:00", "08:00", "start"), ("22:00", "07:60", "end"),
    ("22:00", None, "end"), (2200, "07:00", "start"), ("22:00:00", "07:00", "start"),
    ("22:00", "\u0660\u0667:\u0660\u0660", "end"),
])
def test_bad_quiet_hours_name_the_field(start: object, end: object, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be HH:MM"):
        QuietHours.parse(start, end)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
                                  "Asia/Kathmandu"])
def test_time_zones(zone: str) -> None:
    assert is_time_zone(zone)


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "localtime", "posixrules",
                                  "/etc/localtime", "../../etc/passwd", "europe/berlin",
                                  "UTC ", None, "Europe/Berlin" * 10])
def test_not_time_zones(zone: object) -> None:
    assert not is_time_zone(zone)


TASK = TypeDef("task.assigned")
OFF_BY_DEFAULT = TypeDef("digest.weekly", default_enabled=False)
SYSTEM = BUILTIN_TYPES["SYSTEM"]


@pytest.mark.parametrize(("typedef", "choices", "expected"), [
    (TASK, None, True),
    (TASK, {}, True),
    (TASK, {"task.assigned": False}, False),
    (TASK, {"other": False}, True),
    (OFF_BY_DEFAULT, None, False),
    (OFF_BY_DEFAULT, {}, False),
    (OFF_BY_DEFAULT, {"digest.weekly": True}, True),
    (SYSTEM, {"SYSTEM": False}, True),
    (TypeDef("alarm", transactional=True, default_enabled=False), None, True),
])
def test_allowed_is_transactional_or_the_choice_or_the_default(
    typedef: TypeDef, choices: dict[str, bool] | None, expected: bool,
) -> None:
    settings = None if choices is None else UserSettings(types=choices)
    assert allowed(typedef, settings) is expected
