"""The consumer's pure decisions (consumer/making.py) and its rendering (consumer/rendering.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from common.catalog import BUILTIN_TYPES, TemplateDef, TenantConfig, TypeDef
from common.models import Event
from common.preferences import QuietHours, UserSettings
from consumer.making import Verdict, decide, never_quiet
from consumer.rendering import Job, render_jobs
from consumer.rules import build_notifications, format_message, is_rate_limited

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
TASK = TypeDef("task.assigned", "transactional", transactional=False, default_enabled=True)


def event(**over: object) -> Event:
    body = {"eventId": "e1", "type": "LIKE", "actorId": "alice", "recipients": ["bob"],
            "postId": "p1", "occurredAt": NOW, "acceptedAt": NOW}
    body.update(over)
    return Event.model_validate(body)


def quiet_until_seven(quiet: QuietHours, zone: str | None, now: datetime) -> datetime | None:
    return now + timedelta(hours=8)


def test_unset_preferences_follow_the_types_default() -> None:
    off = TypeDef("digest.weekly", default_enabled=False)
    decisions = decide(event(type="digest.weekly", recipients=["bob", "carol"]), off,
                       ["bob", "carol"], {"carol": UserSettings(types={"digest.weekly": True})},
                       NOW, never_quiet)
    assert [d.verdict for d in decisions] == [Verdict.MUTED, Verdict.MAKE]


def test_a_transactional_type_ignores_opt_outs() -> None:
    system = BUILTIN_TYPES["SYSTEM"]
    users = {"bob": UserSettings(types={"SYSTEM": False})}
    (decision,) = decide(event(type="SYSTEM", text="hi"), system, ["bob"], users, NOW,
                         never_quiet)
    assert decision.verdict is Verdict.MAKE


def test_quiet_hours_hold_unless_the_type_breaks_through() -> None:
    quiet = UserSettings(quiet_hours=QuietHours(time(22), time(7)), time_zone="Europe/Paris")
    (held,) = decide(event(), BUILTIN_TYPES["LIKE"], ["bob"], {"bob": quiet}, NOW,
                     quiet_until_seven)
    assert held.verdict is Verdict.HELD
    assert held.release_at == NOW + timedelta(hours=8)
    (through,) = decide(event(type="SYSTEM", text="x"), BUILTIN_TYPES["SYSTEM"], ["bob"],
                        {"bob": quiet}, NOW, quiet_until_seven)
    assert through.verdict is Verdict.MAKE
    empty = UserSettings(quiet_hours=QuietHours(time(7), time(7)))
    (made,) = decide(event(), BUILTIN_TYPES["LIKE"], ["bob"], {"bob": empty}, NOW,
                     quiet_until_seven)
    assert made.verdict is Verdict.MAKE


def test_the_profiles_locale_wins_over_the_events() -> None:
    users = {"bob": UserSettings(locale="de-AT")}
    decisions = decide(event(recipients=["bob", "carol"], locale="fr"), BUILTIN_TYPES["LIKE"],
                       ["bob", "carol"], users, NOW, never_quiet)
    assert [d.locale for d in decisions] == ["de-AT", "fr"]


def test_system_is_never_rate_limited_whatever_its_spelling() -> None:
    assert not is_rate_limited("SYSTEM")
    assert is_rate_limited("task.assigned")


def config(*templates: TemplateDef, default_locale: str = "en") -> TenantConfig:
    return TenantConfig("t1", {TASK.name: TASK}, {(t.type, t.locale): t for t in templates},
                        default_locale)


def test_default_templates_render_todays_messages() -> None:
    happened = event(recipients=["bob", "carol"])
    job = Job(happened, config(), None, ["bob", "carol"])
    render_jobs([job])
    assert job.error is None
    assert job.messages == dict.fromkeys(["bob", "carol"], format_message(happened))
    made = build_notifications(happened, NOW, 60, job.messages, "promotional")
    assert [n.message for n in made] == [format_message(happened)] * 2


def test_locale_fallback_and_per_recipient_templates() -> None:
    german = TemplateDef("task.assigned", "de", "{{ actorId }} hat {{ userId }} "
                         "{{ data.task }} zugewiesen", 3, NOW)
    english = TemplateDef("task.assigned", "en", "{{ actorId }} assigned you {{ data.task }}",
                          1, NOW)
    happened = event(type="task.assigned", postId=None, recipients=["bob", "carol"],
                     data={"task": "T-1"})
    de, fallback = Job(happened, config(german, english), "de-AT", ["bob", "carol"]), \
        Job(happened, config(german, english), "pt-BR", ["bob"])
    render_jobs([de, fallback])
    assert de.messages == {"bob": "alice hat bob T-1 zugewiesen",
                           "carol": "alice hat carol T-1 zugewiesen"}
    assert de.template_version == 3
    assert fallback.messages == {"bob": "alice assigned you T-1"}


def test_a_template_failing_on_the_data_is_an_error_naming_it() -> None:
    strict = TemplateDef("task.assigned", "en", "{{ data.task.title }}", 2, NOW)
    job = Job(event(type="task.assigned", data={}), config(strict), None, ["bob"])
    blank = Job(event(type="task.assigned", data={"x": " "}),
                config(TemplateDef("task.assigned", "en", "{{ data.x }}", 1, NOW)), None,
                ["bob"])
    render_jobs([job, blank])
    assert job.messages == {}
    assert job.error is not None
    assert "task.assigned template (en, version 2)" in job.error
    assert "task" in job.error
    assert blank.error is not None
    assert "rendered nothing" in blank.error


def test_a_tenant_type_without_template_renders_the_generic_line() -> None:
    job = Job(event(type="task.assigned"), config(), None, ["bob"])
    render_jobs([job])
    assert job.messages == {"bob": "alice: task.assigned"}
