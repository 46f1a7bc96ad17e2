"""A tenant's catalogue: its event types, its stored templates and its default locale.

The vocabulary of issue 19, pure (no I/O); the store keeps it (:mod:`common.store`), the
producer edits it (``/v1/event-types``, ``/v1/templates``) and the consumer reads it through
:mod:`common.config_cache`.

* **Type names** obey :data:`TYPE_PATTERN` (a letter, then up to 63 of letters, digits,
  ``.``, ``_``, ``-``): ``task.assigned``. The five built-ins (:data:`BUILTIN_TYPES`) are
  every tenant's; a tenant may store its own definition under a built-in's name (to change
  its digest window, say), which then wins, and deleting it brings the built-in back.
* **A type** (:class:`TypeDef`): its priority, whether it is ``transactional`` (ignores
  opt-outs: always on), its digest window and what groups a digest (``digestBy``), whether it
  is on for users who never chose (``defaultEnabled``), and whether it breaks through quiet
  hours (transactional types do by default, :func:`default_quiet_hours`).
* **Locales** obey :data:`LOCALE_PATTERN` (``en``, ``en-GB``, ``pt-BR``, ``zh-Hant``,
  ``es-419``). A template is looked up along :func:`locale_chain`: ``de-AT`` → ``de`` → the
  tenant's default locale (``en`` unless set); then the built-in type's default template
  (:data:`common.templates.DEFAULT_TEMPLATES`), or, for a tenant type, the generic line
  :data:`GENERIC_TEMPLATE`.
* **Templates** (:class:`TemplateDef`) are stored per (tenant, type, locale) with a version
  that grows by one at every save of that key, deletions included (a template deleted and
  saved again does not reuse a version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeGuard

from common.models import LOCALE_PATTERN, TYPE_PATTERN, EventType, Priority, is_type_name
from common.templates import DEFAULT_TEMPLATES

__all__ = [
    "BUILTIN_TYPES",
    "DEFAULT_LOCALE",
    "DIGEST_BY_PATTERN",
    "GENERIC_TEMPLATE",
    "LOCALE_PATTERN",
    "MAX_DIGEST_BY",
    "MAX_DIGEST_WINDOW_SECONDS",
    "MAX_TEMPLATES_PER_TENANT",
    "MAX_TYPES_PER_TENANT",
    "QUIET_HOURS_RULES",
    "TYPE_PATTERN",
    "QuietHoursRule",
    "TemplateDef",
    "TenantConfig",
    "TypeDef",
    "default_quiet_hours",
    "is_locale",
    "is_type_name",
    "locale_chain",
    "sample_context",
]

DIGEST_BY_PATTERN = r"^(postId|commentId|data\.[A-Za-z_][A-Za-z0-9_]{0,63})$"
"""What may group a digest: ``postId``, ``commentId`` or ``data.<key>``."""
DEFAULT_LOCALE = "en"
GENERIC_TEMPLATE = "{{ actorId }}: {{ type }}"
"""What a tenant type without any template renders."""
MAX_DIGEST_WINDOW_SECONDS = 86_400
"""A digest window: at most a day."""
MAX_DIGEST_BY = 5
MAX_TYPES_PER_TENANT = 200
"""The producer refuses a tenant's 201st stored type."""
MAX_TEMPLATES_PER_TENANT = 2_000
"""The producer refuses a tenant's 2001st stored template."""

QuietHoursRule = Literal["hold", "breakthrough"]
QUIET_HOURS_RULES: tuple[QuietHoursRule, ...] = ("hold", "breakthrough")
PRIORITIES = tuple(p.value for p in Priority)

_LOCALE = re.compile(LOCALE_PATTERN)
_DIGEST_BY = re.compile(DIGEST_BY_PATTERN)


def is_locale(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a locale (:data:`LOCALE_PATTERN`, the whole string)."""
    return isinstance(value, str) and _LOCALE.fullmatch(value) is not None


def locale_chain(wanted: str | None, default: str = DEFAULT_LOCALE) -> list[str]:
    """The locales to try, in order, without repeats: ``wanted`` (when a locale), its
    language alone, then ``default`` and its language. ``("de-AT", "en")`` →
    ``["de-AT", "de", "en"]``."""
    chain: list[str] = []
    for locale in (wanted, default):
        if not is_locale(locale):
            continue
        for step in (locale, locale.split("-", 1)[0]):
            if step not in chain:
                chain.append(step)
    return chain


def default_quiet_hours(transactional: bool) -> QuietHoursRule:
    """A type's quiet-hours rule when its definition names none: transactional types break
    through, the others are held."""
    return "breakthrough" if transactional else "hold"


@dataclass(frozen=True, slots=True)
class TypeDef:
    """One event type of a tenant (or a built-in). :meth:`problems` lists what is wrong with
    it; the store keeps only definitions without problems."""

    name: str
    priority: str = Priority.PROMOTIONAL.value
    transactional: bool = False
    digest_window_seconds: int = 0
    digest_by: tuple[str, ...] = ()
    default_enabled: bool = True
    quiet_hours: QuietHoursRule = "hold"
    builtin: bool = False

    @property
    def breaks_through(self) -> bool:
        """Whether a notification of this type is made during the user's quiet hours."""
        return self.quiet_hours == "breakthrough"

    @property
    def digests(self) -> bool:
        return self.digest_window_seconds > 0

    def problems(self) -> list[tuple[str, str]]:
        """``(field, message)`` for each rule the definition breaks (API field names)."""
        found: list[tuple[str, str]] = []
        if not is_type_name(self.name):
            found.append(("type", "1-64 of [A-Za-z0-9._-], starting with a letter"))
        if self.priority not in PRIORITIES:
            found.append(("priority", f"one of {', '.join(PRIORITIES)}"))
        if isinstance(self.digest_window_seconds, bool) or not isinstance(
                self.digest_window_seconds, int) or not (
                0 <= self.digest_window_seconds <= MAX_DIGEST_WINDOW_SECONDS):
            found.append(("digestWindowSeconds",
                          f"an integer from 0 to {MAX_DIGEST_WINDOW_SECONDS}"))
        if len(self.digest_by) > MAX_DIGEST_BY:
            found.append(("digestBy", f"at most {MAX_DIGEST_BY} entries"))
        for i, key in enumerate(self.digest_by):
            if not isinstance(key, str) or _DIGEST_BY.fullmatch(key) is None:
                found.append((f"digestBy.{i}", "postId, commentId or data.<key>"))
        if len(set(self.digest_by)) != len(self.digest_by):
            found.append(("digestBy", "entries must be unique"))
        if self.quiet_hours not in QUIET_HOURS_RULES:
            found.append(("quietHours", "hold or breakthrough"))
        return found

    def to_json(self) -> dict[str, Any]:
        """The API's (and the store's) form, ``TypeOut``."""
        return {"type": self.name, "priority": self.priority,
                "transactional": self.transactional,
                "digestWindowSeconds": self.digest_window_seconds,
                "digestBy": list(self.digest_by), "defaultEnabled": self.default_enabled,
                "quietHours": self.quiet_hours, "builtin": self.builtin}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TypeDef:
        """A definition the store kept (:meth:`to_json`); ``builtin`` is recomputed."""
        transactional = bool(doc.get("transactional", False))
        name = str(doc["type"])
        return cls(name=name,
                   priority=str(doc.get("priority", Priority.PROMOTIONAL.value)),
                   transactional=transactional,
                   digest_window_seconds=int(doc.get("digestWindowSeconds", 0)),
                   digest_by=tuple(doc.get("digestBy", ())),
                   default_enabled=bool(doc.get("defaultEnabled", True)),
                   quiet_hours=doc.get("quietHours", default_quiet_hours(transactional)),
                   builtin=name in BUILTIN_TYPES)


def _builtin(kind: EventType, priority: Priority, *, transactional: bool = False,
             digest_window_seconds: int = 0, digest_by: tuple[str, ...] = ()) -> TypeDef:
    return TypeDef(kind.value, priority.value, transactional, digest_window_seconds, digest_by,
                   True, default_quiet_hours(transactional), builtin=True)


BUILTIN_TYPES: Mapping[str, TypeDef] = {t.name: t for t in (
    _builtin(EventType.LIKE, Priority.PROMOTIONAL, digest_window_seconds=300,
             digest_by=("postId", "commentId")),
    _builtin(EventType.COMMENT, Priority.TRANSACTIONAL),
    _builtin(EventType.FOLLOW, Priority.PROMOTIONAL, digest_window_seconds=300),
    _builtin(EventType.MENTION, Priority.TRANSACTIONAL),
    _builtin(EventType.SYSTEM, Priority.TRANSACTIONAL, transactional=True),
)}
"""The five built-ins: today's priorities (``consumer.rules``); SYSTEM is transactional (no
opt-out, breaks through quiet hours); LIKE and FOLLOW digest over 300 s (the consumer's
default semantic window), LIKE per post and comment, FOLLOW per recipient."""


@dataclass(frozen=True, slots=True)
class TemplateDef:
    """A stored template: ``version`` 0 and ``updated_at`` ``None`` for the built-in default
    or the generic line (:meth:`TenantConfig.template_for`), ``locale`` then ``""``."""

    type: str
    locale: str
    source: str
    version: int
    updated_at: datetime | None

    @property
    def stored(self) -> bool:
        return self.version > 0

    def to_json(self) -> dict[str, Any]:
        at = self.updated_at
        return {"type": self.type, "locale": self.locale, "source": self.source,
                "version": self.version,
                "updatedAt": at.isoformat().replace("+00:00", "Z") if at else None}


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """What a tenant set: its stored types (by name), templates (by ``(type, locale)``) and
    default locale. A tenant that set nothing has the built-ins only."""

    tenant_id: str
    types: Mapping[str, TypeDef] = field(default_factory=dict)
    templates: Mapping[tuple[str, str], TemplateDef] = field(default_factory=dict)
    default_locale: str = DEFAULT_LOCALE

    def type_of(self, name: str) -> TypeDef | None:
        """The tenant's definition of ``name``, else the built-in, else ``None`` (an unknown
        type: ingest answers 422 ``unknown_type``)."""
        return self.types.get(name) or BUILTIN_TYPES.get(name)

    def all_types(self) -> list[TypeDef]:
        """Every type the tenant has: the built-ins (as the tenant redefined them), then its
        own, by name."""
        merged = {**BUILTIN_TYPES, **self.types}
        return sorted(merged.values(), key=lambda t: (not t.builtin, t.name))

    def templates_of(self, type_name: str | None = None) -> list[TemplateDef]:
        """The stored templates (of one type when given), by type then locale."""
        chosen = (t for t in self.templates.values()
                  if type_name is None or t.type == type_name)
        return sorted(chosen, key=lambda t: (t.type, t.locale))

    def template_for(self, type_name: str, locale: str | None) -> TemplateDef:
        """The template that renders ``type_name`` for a user of ``locale``: the first stored
        along :func:`locale_chain` (``locale``, its language, the tenant's default locale,
        its language), else the built-in default, else :data:`GENERIC_TEMPLATE`."""
        for step in locale_chain(locale, self.default_locale):
            found = self.templates.get((type_name, step))
            if found is not None:
                return found
        source = DEFAULT_TEMPLATES.get(type_name, GENERIC_TEMPLATE)
        return TemplateDef(type_name, "", source, 0, None)


def sample_context(type_name: str, overrides: Mapping[str, Any] | None = None,
                   locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The variables a template is checked against when it is saved (strictly: a name not
    here is refused): an event's fields, as the consumer renders them, with sample values,
    then ``overrides`` (the caller's ``sample``: e.g. ``{"data": {"task": "Ship it"}}``),
    key by key."""
    context: dict[str, Any] = {
        "type": type_name, "eventId": "ev-sample", "tenantId": "tenant", "actorId": "alice",
        "recipientId": "bob", "userId": "bob", "postId": "post-1", "commentId": None,
        "text": "Looks great!", "data": {}, "locale": locale,
        "count": 1, "others": 0, "actors": ["alice"],
    }
    context.update(overrides or {})
    return context
