"""Hostile templates end within their limits and are refused with a reason; the defaults
reproduce today's messages exactly (common/templates.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from common import templates
from common.models import Event
from common.templates import DEFAULT_TEMPLATES, TemplateRefused, check, render
from consumer.rules import build_notifications
from tests.support.timing import scaled

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BOUND = 1.0
"""Generous: every refusal below must come well within a second (the limits are 50 ms)."""


def _frozen() -> float:
    return 0.0


def refused(source: str, data: dict[str, Any] | None = None, *, timed: bool = False) -> str:
    """The reason ``source`` is refused, within :data:`BOUND` (scaled). Unless ``timed``, the
    render's own clock stands still, so a busy machine cannot turn the refusal a test expects
    into "too slow" (the loop, size and depth limits stop it first)."""
    started = time.monotonic()
    with pytest.raises(TemplateRefused) as caught:
        render(source, data or {}, clock=time.monotonic if timed else _frozen)
    assert time.monotonic() - started < scaled(BOUND)
    return caught.value.reason


def test_a_placeholder_renders() -> None:
    assert render("{{ actor }} liked your post", {"actor": "alice"}) == "alice liked your post"


def test_autoescape_is_off() -> None:
    assert render("{{ x }}", {"x": "<b>&</b>"}) == "<b>&</b>"


@pytest.mark.parametrize("source", [
    "{{ x.__class__ }}",
    "{{ x.__globals__ }}",
    "{{ x.__init__.__globals__ }}",
    "{{ x.__class__.__subclasses__() }}",
    "{{ x.mro }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x['__class__'] }}",
    "{{ x|attr('__class__') }}",
    "{{ (x|attr('__class__')).__base__ }}",
])
def test_attribute_walks_are_refused(source: str) -> None:
    assert refused(source, {"x": "a"}).startswith("unsafe")


@pytest.mark.parametrize("source", [
    '{{ "{0.__class__}".format(x) }}',
    '{{ "{0.__class__.__init__.__globals__}".format(x) }}',
    '{{ "{x.__class__}".format_map(d) }}',
    '{{ (x|attr("format"))("{0.__class__}") }}',
    '{{ "{:>999999999}".format(x) }}',
    '{{ "%s" % x }}',
    '{{ "x".center(10**8) }}',
])
def test_format_escapes_are_refused(source: str) -> None:
    assert refused(source, {"x": "a", "d": {"x": "a"}}).startswith("unsafe")


@pytest.mark.parametrize("source", [
    "{{ self }}",
    "{{ range }}",
    "{{ x.upper }}",
    "{{ [range] }}",
    "{{ range ~ '' }}",
    "{{ range|string }}",
    "{{ range|upper }}",
    "{{ x|attr('upper') }}",
    "{% for i in [1] %}{{ loop }}{% endfor %}",
    "{% macro m() %}{% endmacro %}{{ m }}",
])
def test_python_objects_are_never_printed(source: str) -> None:
    assert refused(source, {"x": "a"}).startswith("unsafe output")


def test_the_format_filter_does_not_exist() -> None:
    with pytest.raises(TemplateRefused, match="format"):
        check('{{ "{0.__class__}"|format(x) }}')


def test_a_huge_range_is_refused() -> None:
    assert "range" in refused("{% for i in range(10**9) %}x{% endfor %}")


def test_nested_loops_that_print_nothing_stop() -> None:
    loops = ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
             "{% endfor %}{% endfor %}{% endfor %}")
    assert refused(loops, timed=True).startswith("too slow")


def test_nested_loops_building_100_mb_stop_at_the_output_limit() -> None:
    loops = ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(100) %}"
             "xxxxxxxxxx{% endfor %}{% endfor %}{% endfor %}")
    assert refused(loops).startswith("too long")


@pytest.mark.parametrize("source", [
    '{{ "x" * 10**8 }}',
    '{{ ["x"] * 10**8 }}',
    '{% set s = "xxxxxxxxxx" %}' + "{% set s = s ~ s %}" * 30 + "{{ s }}",
    '{% set s = "xxxxxxxxxx" %}' + "{% set s = s + s %}" * 30 + "{{ s }}",
    '{{ "x"|replace("", "y" * 5000) }}',
    '{{ 10 ** (10 ** 10) }}',
])
def test_growing_values_are_refused_before_they_are_built(source: str) -> None:
    assert refused(source).startswith("too long")


@pytest.mark.parametrize("source", [
    "{% set x %}{% for i in range(900) %}{% for j in range(10) %}{{ 'x' * 5000 }}"
    "{% endfor %}{% endfor %}{% endset %}{{ x|length }}",
    "{% macro m() %}{% for i in range(900) %}{% for j in range(10) %}" + "z" * 9000
    + "{% endfor %}{% endfor %}{% endmacro %}{{ m()|length }}",
])
def test_output_captured_out_of_the_stream_is_counted_too(source: str) -> None:
    assert refused(source).startswith("too long: the template produces")


def test_a_self_calling_macro_is_refused() -> None:
    assert refused("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").startswith(
        "too deep")


def test_a_recursive_loop_is_refused() -> None:
    assert refused("{% for i in x recursive %}{{ loop(x) }}{% endfor %}",
                   {"x": [1, 2]}).startswith("too deep")


def test_an_unknown_variable_is_named() -> None:
    assert refused("Hello {{ nmae }}", {"name": "bob"}) == ("unknown variable: 'nmae' is "
                                                            "undefined")


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(TemplateRefused, match="line 3"):
        check("one\ntwo\n{{ foo( }}")


def test_a_long_source_is_refused() -> None:
    with pytest.raises(TemplateRefused, match="too long"):
        check("x" * (templates.MAX_SOURCE_CHARS + 1))


def test_a_slow_render_is_refused_by_the_clock() -> None:
    ticks = iter(range(1_000_000))
    with pytest.raises(TemplateRefused, match="too slow"):
        render("{% for i in range(100) %}{{ i }}{% endfor %}", {},
               clock=lambda: float(next(ticks)))


def event(**over: object) -> Event:
    body: dict[str, object] = {"eventId": "e1", "type": "LIKE", "actorId": "alice",
                               "recipients": ["bob"], "postId": "p1", "occurredAt": NOW,
                               "acceptedAt": NOW}
    body.update(over)
    return Event.model_validate(body)


@pytest.mark.parametrize("over", [
    {},
    {"commentId": "c1"},
    {"type": "COMMENT", "text": "great\n\tshot"},
    {"type": "COMMENT", "text": "word " * 40},
    {"type": "FOLLOW", "postId": None},
    {"type": "MENTION", "text": "hey @bob"},
    {"type": "MENTION"},
    {"type": "MENTION", "text": "   "},
    {"type": "SYSTEM", "text": "Your  password changed"},
])
def test_default_templates_write_todays_messages(over: dict[str, object]) -> None:
    happened = event(**over)
    today = build_notifications(happened, NOW, 60)[0].message
    rendered = render(DEFAULT_TEMPLATES[happened.type], happened.model_dump(mode="json"))
    assert rendered == today
