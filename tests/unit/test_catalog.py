"""A tenant's catalogue (common.catalog): names, locales and their fallback, types and which
template renders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.catalog import (
    BUILTIN_TYPES,
    GENERIC_TEMPLATE,
    MAX_DIGEST_WINDOW_SECONDS,
    TemplateDef,
    TenantConfig,
    TypeDef,
    default_quiet_hours,
    is_locale,
    is_type_name,
    locale_chain,
    sample_context,
)
from common.models import EventType
from common.templates import DEFAULT_TEMPLATES, render

pytestmark = pytest.mark.unit

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("name", ["LIKE", "task.assigned", "a", "post-created_2",
                                  "A" + "b" * 63])
def test_type_names(name: str) -> None:
    assert is_type_name(name)


@pytest.mark.parametrize("name", ["", "1abc", ".x", "a b", "a/b", "A" + "b" * 64, "é",
                                  "task\n", None, 3])
def test_not_type_names(name: object) -> None:
    assert not is_type_name(name)


@pytest.mark.parametrize("locale", ["en", "en-GB", "pt-BR", "zh-Hant", "es-419", "fil"])
def test_locales(locale: str) -> None:
    assert is_locale(locale)


@pytest.mark.parametrize("locale", ["", "EN", "en_GB", "en-gb", "english", "en-GB\n",
                                    "es-41", "en-", None])
def test_not_locales(locale: object) -> None:
    assert not is_locale(locale)


@pytest.mark.parametrize(("wanted", "default", "chain"), [
    ("de-AT", "en", ["de-AT", "de", "en"]),
    ("de", "en", ["de", "en"]),
    ("en-GB", "en", ["en-GB", "en"]),
    (None, "fr-CA", ["fr-CA", "fr"]),
    ("bad locale", "en", ["en"]),
    ("pt-BR", "pt-PT", ["pt-BR", "pt", "pt-PT"]),
])
def test_locale_chain(wanted: str | None, default: str, chain: list[str]) -> None:
    assert locale_chain(wanted, default) == chain


def test_builtins_are_the_five_types_with_todays_priorities() -> None:
    assert set(BUILTIN_TYPES) == {t.value for t in EventType}
    assert all(t.builtin and not t.problems() for t in BUILTIN_TYPES.values())
    assert BUILTIN_TYPES["LIKE"].digest_by == ("postId", "commentId")
    assert BUILTIN_TYPES["FOLLOW"].digest_by == ()
    assert BUILTIN_TYPES["SYSTEM"].transactional
    assert BUILTIN_TYPES["SYSTEM"].breaks_through
    assert BUILTIN_TYPES["COMMENT"].priority == "transactional"
    assert not BUILTIN_TYPES["COMMENT"].transactional


def test_a_type_lists_every_broken_rule_by_field() -> None:
    bad = TypeDef("1x", priority="urgent", digest_window_seconds=MAX_DIGEST_WINDOW_SECONDS + 1,
                  digest_by=("postId", "data.", "postId"), quiet_hours="snooze")  # type: ignore[arg-type]
    fields = [f for f, _ in bad.problems()]
    assert fields == ["type", "priority", "digestWindowSeconds", "digestBy.1", "digestBy",
                      "quietHours"]
    assert TypeDef("task.assigned", digest_by=("data.taskId", "postId")).problems() == []


def test_a_type_round_trips_through_json() -> None:
    typedef = TypeDef("task.assigned", "transactional", True, 60, ("data.taskId",), False,
                      "breakthrough")
    assert TypeDef.from_json(typedef.to_json()) == typedef
    assert TypeDef.from_json({"type": "LIKE"}).builtin
    assert TypeDef.from_json({"type": "x", "transactional": True}).quiet_hours == "breakthrough"
    assert default_quiet_hours(False) == "hold"


def test_type_of_prefers_the_tenants_definition_then_the_builtin() -> None:
    mine = TypeDef("LIKE", digest_window_seconds=0, builtin=True)
    task = TypeDef("task.assigned")
    config = TenantConfig("t1", {"LIKE": mine, "task.assigned": task})
    assert config.type_of("LIKE") is mine
    assert config.type_of("task.assigned") is task
    assert config.type_of("FOLLOW") is BUILTIN_TYPES["FOLLOW"]
    assert config.type_of("nope") is None
    names = [t.name for t in config.all_types()]
    assert names == ["COMMENT", "FOLLOW", "LIKE", "MENTION", "SYSTEM", "task.assigned"]


def test_template_for_follows_the_locale_chain_then_the_defaults() -> None:
    def stored(type_name: str, locale: str) -> TemplateDef:
        return TemplateDef(type_name, locale, f"{type_name}/{locale}", 1, AT)

    templates = {(t.type, t.locale): t for t in (
        stored("LIKE", "de"), stored("LIKE", "fr"), stored("task.assigned", "de-AT"),
        stored("task.assigned", "fr"))}
    config = TenantConfig("t1", {}, templates, default_locale="fr")
    assert config.template_for("LIKE", "de-AT").source == "LIKE/de"
    assert config.template_for("LIKE", "es").source == "LIKE/fr"
    assert config.template_for("task.assigned", "de-AT").source == "task.assigned/de-AT"
    assert config.template_for("task.assigned", "de").source == "task.assigned/fr"
    assert config.template_for("task.assigned", None).source == "task.assigned/fr"
    builtin = config.template_for("COMMENT", "de")
    assert (builtin.source, builtin.version, builtin.stored) == (
        DEFAULT_TEMPLATES["COMMENT"], 0, False)
    assert TenantConfig("t2").template_for("task.assigned", "en").source == GENERIC_TEMPLATE
    assert [t.locale for t in config.templates_of("LIKE")] == ["de", "fr"]
    assert len(config.templates_of()) == 4


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_renders_strictly_against_the_sample(kind: str) -> None:
    assert render(DEFAULT_TEMPLATES[kind], sample_context(kind))
    assert render(GENERIC_TEMPLATE, sample_context("task.assigned")) == "alice: task.assigned"


def test_the_sample_takes_the_callers_values() -> None:
    context = sample_context("x", {"data": {"task": "Ship"}, "actorId": "carol"}, "de")
    assert (context["data"], context["actorId"], context["locale"]) == (
        {"task": "Ship"}, "carol", "de")
    assert TemplateDef("x", "en", "s", 3, AT).to_json()["updatedAt"] == "2026-01-02T03:04:05Z"
