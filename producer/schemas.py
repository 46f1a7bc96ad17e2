"""HTTP request bodies: the v1 API and the seed's simulation routes.

Bodies are strict: a field of the wrong type, an unknown field or a missing one is a 422 that
names it (the seed answered 200 to wrongly typed bodies and dropped them later).

``occurredAt`` is an ISO 8601 string with a time zone (a JSON number is refused, not read as a
Unix time) within :class:`OccurredWindow` of now: at most ``OCCURRED_AT_MAX_AGE_SECONDS`` old
and ``OCCURRED_AT_MAX_SKEW_SECONDS`` ahead. The window comes in the validation context
(``{"window": OccurredWindow(...)}``); without one, :data:`DEFAULT_WINDOW` applies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from common.catalog import (
    DIGEST_BY_PATTERN,
    MAX_DIGEST_BY,
    MAX_DIGEST_WINDOW_SECONDS,
    QuietHoursRule,
)
from common.inbox import MAX_MARK_IDS
from common.models import (
    MAX_DATA_BYTES,
    MAX_DATA_DEPTH,
    MAX_DATA_KEYS,
    MAX_RECIPIENTS,
    MAX_TEXT,
    Event,
    EventData,
    EventType,
    Id,
    Locale,
    Topic,
    TypeName,
    check_type_rules,
    utc_now,
)
from common.preferences import (
    MAX_PREFERENCE_TYPES,
    MAX_TIME_ZONE_CHARS,
    TIME_PATTERN,
    is_time_zone,
)
from common.templates import MAX_SOURCE_CHARS

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "DEFAULT_MAX_SKEW_SECONDS",
    "DEFAULT_WINDOW",
    "MAX_DATA_DEPTH",
    "MAX_DATA_KEYS",
    "BatchIn",
    "CommentIn",
    "DefaultLocaleIn",
    "EventIn",
    "FollowIn",
    "KeyIn",
    "LikeIn",
    "LimitsIn",
    "OccurredWindow",
    "PreferencesIn",
    "PreviewIn",
    "ProfileIn",
    "QuietHoursIn",
    "SubscribersIn",
    "TemplateIn",
    "TenantIn",
    "TokenIn",
    "TypeIn",
]

Text = Annotated[str, StringConstraints(strict=True, max_length=MAX_TEXT)]

DEFAULT_MAX_AGE_SECONDS = 366 * 86400
DEFAULT_MAX_SKEW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class OccurredWindow:
    """How far from now an ``occurredAt`` may be: ``max_age_seconds`` into the past,
    ``max_skew_seconds`` into the future (clocks of senders drift)."""

    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS


DEFAULT_WINDOW = OccurredWindow()


def _iso_8601(value: object) -> object:
    """Only an ISO 8601 string (or, from Python, a ``datetime``): pydantic alone would read a
    JSON number, or a string of digits, as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string such as 2026-11-21T12:00:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 date-time such as 2026-11-21T12:00:00Z") from None


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventIn(_Strict):
    """``POST /v1/events``. Exactly one of ``targetId``, ``targetIds`` and ``topic``: a topic
    reaches its subscribers when the event is consumed (``"*"``: every user the tenant has,
    which needs the scope ``events:broadcast``); the actor is never notified."""

    eventId: Id | None = None
    tenantId: Id = "default"
    type: TypeName = Field(description="A built-in type (LIKE, COMMENT, FOLLOW, MENTION, "
                                       "SYSTEM) or one the tenant registered "
                                       "(`PUT /v1/event-types/{type}`).")
    actorId: Id
    targetId: Id | None = None
    targetIds: Annotated[list[Id], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = None
    topic: Topic | None = Field(None, description="Instead of `targetId(s)`: every subscriber "
                                "of this topic when the event is consumed, except the actor "
                                "(`followers:alice`); `*` is every user the tenant has and "
                                "needs a key with `events:broadcast`.")
    postId: Id | None = None
    commentId: Id | None = None
    text: Text | None = None
    data: EventData | None = Field(None, description="What the type's templates read as "
                                   f"`data`: a JSON object, at most {MAX_DATA_DEPTH} levels, "
                                   f"{MAX_DATA_KEYS} keys in all and {MAX_DATA_BYTES} bytes.")
    locale: Locale | None = Field(None, description="The recipients' locale when their "
                                  "profiles name none (`en`, `en-GB`): which of the type's "
                                  "templates renders.")
    occurredAt: IsoDatetime | None = None

    @field_validator("occurredAt")
    @classmethod
    def _within_window(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """``occurredAt`` in UTC, if within the window of now (the context's, or the default);
        years 1 and 9999 never are (and converting them to UTC may not even be possible)."""
        if value is None:
            return None
        context = info.context if isinstance(info.context, dict) else {}
        window = context.get("window", DEFAULT_WINDOW)
        now = utc_now()
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range (years 1 to 9999 in UTC)") from None
        if utc < now - timedelta(seconds=window.max_age_seconds):
            raise ValueError(f"must be at most {window.max_age_seconds:g} s in the past "
                             "(OCCURRED_AT_MAX_AGE_SECONDS)")
        if utc > now + timedelta(seconds=window.max_skew_seconds):
            raise ValueError(f"must be at most {window.max_skew_seconds:g} s in the future "
                             "(OCCURRED_AT_MAX_SKEW_SECONDS)")
        return utc

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        given = sum(v is not None for v in (self.targetId, self.targetIds, self.topic))
        if given != 1:
            raise ValueError("give exactly one of targetId, targetIds and topic")
        recipients = self.recipients
        if len(set(recipients)) != len(recipients):
            raise ValueError("targetIds must be unique")
        check_type_rules(self.type, self.actorId, recipients, self.postId, self.text)
        return self

    @property
    def recipients(self) -> list[str]:
        """The listed recipients; none for an event with a topic (its subscribers are found
        when it is consumed)."""
        return [self.targetId] if self.targetId is not None else list(self.targetIds or [])

    def to_event(self, accepted_at: datetime | None = None) -> Event:
        """The envelope to publish. Built without validating again: this body has passed the
        same field and type rules :class:`Event` checks (tests/unit hold the two in step)."""
        now = accepted_at or utc_now()
        occurred = self.occurredAt if self.occurredAt is not None else now
        return Event.model_construct(
            eventId=self.eventId or str(uuid.uuid4()),
            tenantId=self.tenantId,
            type=self.type,
            actorId=self.actorId,
            recipients=self.recipients,
            topic=self.topic,
            postId=self.postId,
            commentId=self.commentId,
            text=self.text,
            data=self.data,
            locale=self.locale,
            occurredAt=occurred,
            acceptedAt=now,
        )


class BatchIn(_Strict):
    """``POST /v1/events/batch``: items are validated one by one, so this holds raw objects."""

    events: Annotated[list[Any], Field(min_length=1)]


class _SeedIn(_Strict):
    eventId: Id | None = None
    tenantId: Id = "default"
    actorId: Id
    targetId: Id


class LikeIn(_SeedIn):
    """``POST /like`` as the seed took it."""

    postId: Id
    type: Literal["LIKE"] = "LIKE"

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.LIKE,
                       actorId=self.actorId, targetId=self.targetId, postId=self.postId)


class CommentIn(_SeedIn):
    """``POST /comment`` as the seed took it."""

    postId: Id
    text: Text
    commentId: Id | None = None

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.COMMENT,
                       actorId=self.actorId, targetId=self.targetId, postId=self.postId,
                       commentId=self.commentId, text=self.text)


class FollowIn(_SeedIn):
    """``POST /follow`` as the seed took it."""

    def to_event_in(self) -> EventIn:
        return EventIn(eventId=self.eventId, tenantId=self.tenantId, type=EventType.FOLLOW,
                       actorId=self.actorId, targetId=self.targetId)


# --- the admin API and tokens (producer/admin/routes.py, producer/reads/tokens.py) ---------

MAX_RATE = 1_000_000.0
MAX_BURST = 10_000_000
DEFAULT_TOKEN_TTL_SECONDS = 900
MAX_TOKEN_TTL_SECONDS = 86_400
Name = Annotated[str, StringConstraints(strict=True, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TenantIn(_Body):
    """``POST /v1/admin/tenants``."""

    tenantId: Id
    name: Name | None = None
    ratePerSecond: float | None = Field(None, gt=0, le=MAX_RATE)
    burst: int | None = Field(None, ge=1, le=MAX_BURST)


class LimitsIn(_Body):
    """``PUT /v1/admin/tenants/{tenantId}/limits``: both null → the producer's defaults."""

    ratePerSecond: float | None = Field(..., gt=0, le=MAX_RATE)
    burst: int | None = Field(..., ge=1, le=MAX_BURST)


class KeyIn(_Body):
    """``POST /v1/admin/tenants/{tenantId}/keys``."""

    scopes: Annotated[list[str], Field(min_length=1, max_length=10)]
    name: Name = ""


class TokenIn(BaseModel):
    """``POST /v1/tokens``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    userId: Id
    ttlSeconds: Annotated[int, Field(ge=60, le=MAX_TOKEN_TTL_SECONDS)] = DEFAULT_TOKEN_TTL_SECONDS


class PreviewIn(BaseModel):
    """``POST /v1/templates/preview`` (:mod:`producer.catalog.preview`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    template: str = Field(max_length=MAX_SOURCE_CHARS,
                          description="The template: text with `{{ placeholders }}` "
                                      "(Jinja2, sandboxed).")
    data: dict[str, Any] = Field(description="The values the placeholders name: a JSON "
                                             f"object, at most {MAX_DATA_DEPTH} levels deep "
                                             f"and {MAX_DATA_KEYS} keys in all.")


# --- configuration (issue 19): producer/catalog/routes.py, producer/users/routes.py ---------
DigestBy = Annotated[str, StringConstraints(strict=True, pattern=DIGEST_BY_PATTERN)]
WallTime = Annotated[str, StringConstraints(strict=True, pattern=TIME_PATTERN)]


def _iana_zone(value: str) -> str:
    if not is_time_zone(value):
        raise ValueError("not a time zone of the IANA database (e.g. Europe/Berlin, UTC)")
    return value


TimeZone = Annotated[str, StringConstraints(strict=True, max_length=MAX_TIME_ZONE_CHARS),
                     AfterValidator(_iana_zone)]


class TypeIn(_Body):
    """``PUT /v1/event-types/{type}``: a field left out takes its default."""

    type: TypeName | None = Field(None, description="The type's name; if given, the path's.")
    priority: Literal["transactional", "promotional"] = "promotional"
    transactional: bool = Field(False, description="Ignores opt-outs: always on.")
    digestWindowSeconds: int = Field(0, ge=0, le=MAX_DIGEST_WINDOW_SECONDS,
                                     description="0: no digest.")
    digestBy: list[DigestBy] = Field(default_factory=list, max_length=MAX_DIGEST_BY,
                                     description="What groups a digest: `postId`, "
                                                 "`commentId`, `data.<key>`.")
    defaultEnabled: bool = Field(True, description="On for users who did not choose.")
    quietHours: QuietHoursRule | None = Field(None, description="`hold` or `breakthrough`; "
                                                                "absent: `breakthrough` for a "
                                                                "transactional type, else "
                                                                "`hold`.")


class TemplateIn(_Body):
    """``PUT /v1/templates/{type}/{locale}``."""

    source: str = Field(max_length=MAX_SOURCE_CHARS,
                        description="The template (Jinja2, sandboxed).")
    sample: dict[str, Any] | None = Field(None, description="Values the check renders with, "
                                                            "over the sample event (e.g. "
                                                            "`{\"data\": {\"task\": \"Ship\"}}`)"
                                                            f"; at most {MAX_DATA_DEPTH} levels "
                                                            f"and {MAX_DATA_KEYS} keys.")


class DefaultLocaleIn(_Body):
    """``PUT /v1/templates/default-locale``."""

    locale: Locale


class ProfileIn(_Body):
    """``PUT /v1/users/{userId}/profile``: both fields, ``null`` to clear."""

    locale: Locale | None
    timeZone: TimeZone | None


class QuietHoursIn(_Body):
    start: WallTime = Field(description="`HH:MM`, local time.")
    end: WallTime = Field(description="`HH:MM`, local time; before `start`: the next day.")


class PreferencesIn(_Body):
    """``PUT /v1/users/{userId}/preferences``: replaces both parts."""

    types: dict[TypeName, bool] = Field(max_length=MAX_PREFERENCE_TYPES,
                                        description="Type → on/off; a type left out follows "
                                                    "its default.")
    quietHours: QuietHoursIn | None


# --- topics (issue 20): producer/topics/routes.py -----------------------------------------
MAX_SUBSCRIBERS_CHANGE = 10_000
"""The most user ids one ``POST /v1/topics/{topic}/subscribers`` names, ``add`` and
``remove`` together (the store's ``MAX_MEMBER_IDS``)."""


class SubscribersIn(_Body):
    """``POST /v1/topics/{topic}/subscribers``: users to subscribe and users to remove, at most
    :data:`MAX_SUBSCRIBERS_CHANGE` ids in all; an id in both lists is refused."""

    add: list[Id] = Field(default_factory=list, max_length=MAX_SUBSCRIBERS_CHANGE,
                          description="Users to subscribe (one already subscribed keeps "
                                      "their subscription's time).")
    remove: list[Id] = Field(default_factory=list, max_length=MAX_SUBSCRIBERS_CHANGE,
                             description="Users to unsubscribe (one not subscribed is no "
                                         "error).")

    @model_validator(mode="after")
    def _bounded_and_apart(self) -> Self:
        if len(self.add) + len(self.remove) > MAX_SUBSCRIBERS_CHANGE:
            raise ValueError(f"at most {MAX_SUBSCRIBERS_CHANGE} ids in add and remove together")
        if not self.add and not self.remove:
            raise ValueError("name at least one user in add or remove")
        both = set(self.add) & set(self.remove)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both in add and in remove")
        return self


MarkName = Literal["seen", "read", "archived", "unarchived"]
"""The marks of :class:`common.records.Mark` (issue 20)."""


class MarkIn(_Body):
    """``POST /v1/users/{userId}/notifications/marks``."""

    mark: MarkName = Field(description="`seen`, `read` (implies seen), `archived` (implies "
                                       "read and seen) or `unarchived` (stays read).")
    notificationIds: list[Id] = Field(min_length=1, max_length=MAX_MARK_IDS)


class MarkAllIn(_Body):
    """``POST /v1/users/{userId}/notifications/marks/all``."""

    mark: MarkName
