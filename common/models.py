"""The event and notification models that travel between services (pydantic v2).

``Event`` is the envelope on the AMQP wire: the producer builds it from an HTTP body and the
consumer validates it again, since anything may publish to the exchange. ``Notification`` is
what the consumer buffers in Redis, the gateway sends to clients and the persister stores.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self, TypeGuard

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "BROADCAST",
    "DIGEST_ACTORS",
    "ID_PATTERN",
    "ID_RULE",
    "LOCALE_PATTERN",
    "MAX_DATA_BYTES",
    "MAX_DATA_DEPTH",
    "MAX_DATA_KEYS",
    "MAX_RECIPIENTS",
    "MAX_TEXT",
    "TOPIC_PATTERN",
    "TYPE_PATTERN",
    "TYPE_RULE",
    "Event",
    "EventData",
    "EventType",
    "Id",
    "Locale",
    "Notification",
    "Priority",
    "Topic",
    "TypeName",
    "UtcDatetime",
    "check_data",
    "check_type_rules",
    "is_builtin",
    "is_id",
    "is_type_name",
    "notification_id",
    "utc_now",
]

ID_PATTERN = r"^[A-Za-z0-9._@-]{1,128}$"
"""The id rule, for pydantic (whose regex engine anchors ``$`` at the very end). Python code
checks ids with :func:`is_id` only: Python's ``re.match`` with ``$`` also accepts a trailing
newline, which is how a signed ``sub`` of ``"bob\\n"`` once got past the gateway."""
ID_RULE = "1-128 of [A-Za-z0-9._@-]"
MAX_RECIPIENTS = 1000
MAX_TEXT = 2000
DIGEST_ACTORS = 3
"""How many actors a digest notification names (``Notification.actors``), newest first."""

Id = Annotated[str, StringConstraints(strict=True, pattern=ID_PATTERN)]
"""A user, tenant, post, comment or event id. The charset keeps ids safe inside Redis keys,
hash tags and AMQP headers."""

_ID_FULL = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$")).fullmatch


def is_id(value: object) -> TypeGuard[str]:
    """True when ``value`` is a string the :data:`Id` type accepts; the one id check outside
    pydantic (JWT claims, query and path parameters, ACK frames). ``fullmatch``, never
    ``match``: nothing, not even a newline, may follow the id."""
    return isinstance(value, str) and _ID_FULL(value) is not None


_NAMESPACE = uuid.UUID("6f1c6c1e-2b8a-4c55-9a3e-5b0d6f1e4a17")


def notification_id(tenant_id: str, event_id: str, recipient_id: str) -> str:
    """The id of the notification an event makes for one recipient.

    Derived, never random: a redelivered or re-sent event makes the same id, which every write
    (buffer, stream, store) is idempotent on.
    """
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}\x1f{event_id}\x1f{recipient_id}"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def _to_utc(value: datetime) -> datetime:
    """In UTC; a time that has no UTC ``datetime`` (``9999-12-31T23:59:59-01:00``) is a
    ``ValueError`` (a validation error), not an ``OverflowError`` out of pydantic."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range (years 1 to 9999 in UTC)") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$"
"""An event type's name: the five built-ins (:class:`EventType`) or one a tenant registers
(``task.assigned``, ``post.created``): a letter, then up to 63 of ``[A-Za-z0-9._-]``."""
TYPE_RULE = "a letter, then up to 63 of [A-Za-z0-9._-]"
TypeName = Annotated[str, StringConstraints(strict=True, pattern=TYPE_PATTERN)]
_TYPE_FULL = re.compile(TYPE_PATTERN.removeprefix("^").removesuffix("$")).fullmatch


def is_type_name(value: object) -> TypeGuard[str]:
    """True when ``value`` is a string :data:`TypeName` accepts (``fullmatch``, as
    :func:`is_id`)."""
    return isinstance(value, str) and _TYPE_FULL(value) is not None


TOPIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
"""A topic's name (``followers:alice``). Stand-in for H6's definition (issue 20), which the
lead keeps at merge."""
BROADCAST = "*"
"""The topic of a broadcast: every user the tenant has."""
Topic = Annotated[str, StringConstraints(
    strict=True, pattern=r"^(\*|" + TOPIC_PATTERN.removeprefix("^").removesuffix("$") + ")$")]
"""An event's topic: a name of :data:`TOPIC_PATTERN`, or :data:`BROADCAST`."""


LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z][A-Za-z]{1,3}|-[0-9]{3})?$"
"""A locale: a language, optionally with a region, script or UN M.49 area (``en``, ``en-GB``,
``pt-BR``, ``zh-Hant``, ``es-419``)."""
Locale = Annotated[str, StringConstraints(strict=True, pattern=LOCALE_PATTERN)]

MAX_DATA_DEPTH = 10
"""An event's ``data`` (and a preview's) nests at most 10 levels (the object itself is 1)."""
MAX_DATA_KEYS = 100
"""An event's ``data`` holds at most 100 keys, counted over every object in it."""
MAX_DATA_BYTES = 8192
"""An event's ``data`` is at most 8 KiB as JSON."""


def _data_shape(value: object, depth: int) -> int:
    """The keys of ``value`` (a JSON value), counted over every object in it; raises
    ``ValueError`` past the depth or the key count."""
    if depth > MAX_DATA_DEPTH:
        raise ValueError(f"nests deeper than {MAX_DATA_DEPTH} levels")
    if isinstance(value, dict):
        keys = len(value)
        for item in value.values():
            keys += _data_shape(item, depth + 1)
    elif isinstance(value, list):
        keys = sum(_data_shape(item, depth + 1) for item in value)
    else:
        return 0
    if keys > MAX_DATA_KEYS:
        raise ValueError(f"holds more than {MAX_DATA_KEYS} keys")
    return keys


def check_data(value: dict[str, Any], *, max_bytes: int | None = MAX_DATA_BYTES
               ) -> dict[str, Any]:
    """``value`` if it is a JSON object within the limits (depth, keys and, unless
    ``max_bytes`` is ``None``, size as JSON); ``ValueError`` saying which it is over."""
    _data_shape(value, 1)
    if max_bytes is not None:
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError:  # an integer past 64 bits
            raise ValueError("holds a number out of range (64-bit integers)") from None
        if size > max_bytes:
            raise ValueError(f"is over {max_bytes} bytes as JSON")
    return value


EventData = Annotated[dict[str, Any], AfterValidator(check_data)]
"""An event's ``data``: a JSON object templates read (``{{ data.task.title }}``)."""


class EventType(StrEnum):
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    FOLLOW = "FOLLOW"
    MENTION = "MENTION"
    SYSTEM = "SYSTEM"


_BUILTINS = frozenset(EventType)


def is_builtin(kind: str) -> bool:
    """One of the five built-in types (:class:`EventType`), whose field rules
    :func:`check_type_rules` knows."""
    return kind in _BUILTINS


class Priority(StrEnum):
    TRANSACTIONAL = "transactional"
    PROMOTIONAL = "promotional"


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("recipients must be unique")
    return values


class Event(BaseModel):
    """An accepted activity event, as published to RabbitMQ (JSON body, one per message)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    eventId: Id
    tenantId: Id = "default"
    type: TypeName
    actorId: Id
    recipients: Annotated[
        list[Id], Field(max_length=MAX_RECIPIENTS), AfterValidator(_unique)
    ]
    """Non-empty unless :attr:`topic` is set; empty when it is."""
    topic: Topic | None = None
    """The topic whose subscribers the event reaches (fanned out by the consumer)."""
    postId: Id | None = None
    commentId: Id | None = None
    text: Annotated[str, StringConstraints(strict=True, max_length=MAX_TEXT)] | None = None
    data: EventData | None = None
    locale: Locale | None = None
    occurredAt: UtcDatetime
    acceptedAt: UtcDatetime

    @model_validator(mode="after")
    def _rules_of_type(self) -> Self:
        if self.topic is None and not self.recipients:
            raise ValueError("recipients must not be empty unless topic is set")
        if self.topic is not None and self.recipients:
            raise ValueError("an event with a topic has no recipients")
        check_type_rules(self.type, self.actorId, self.recipients, self.postId, self.text)
        return self


def check_type_rules(
    kind: str, actor: str, recipients: list[str], post_id: str | None, text: str | None
) -> None:
    """Rules that depend on the event type; shared by the HTTP body and the AMQP envelope so
    both reject the same things. A tenant's own types have no field rules beyond the
    envelope's: their templates say what they need, and a template that needs what an event
    lacks fails at render time (the event is dead-lettered ``template_failed``)."""
    if actor in recipients:
        raise ValueError("actorId must not be one of the recipients: nobody is notified of "
                         "their own activity")
    if kind in (EventType.LIKE, EventType.COMMENT) and post_id is None:
        raise ValueError(f"postId is required for {kind}")
    if kind in (EventType.COMMENT, EventType.SYSTEM) and not (text and text.strip()):
        raise ValueError(f"text is required for {kind}")


class Notification(BaseModel):
    """One notification for one recipient (the wire protocol's ``notification`` object)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    tenantId: Id
    userId: Id
    type: TypeName
    actorId: Id
    eventId: Id
    postId: Id | None = None
    commentId: Id | None = None
    message: str
    priority: Priority
    createdAt: UtcDatetime
    expiresAt: UtcDatetime
    # --- digests (common/buffer/digest.py): one notification updated in place ------------
    count: Annotated[int, Field(strict=True, ge=1)] = 1
    """How many distinct actors the notification stands for (1 unless it is a digest)."""
    actors: Annotated[list[Id], Field(max_length=DIGEST_ACTORS)] = Field(default_factory=list)
    """The latest actors, newest first, at most :data:`DIGEST_ACTORS`; empty means just
    ``actorId``. An erased actor leaves this list at the digest's next update; ``count``
    stays (``common.buffer.digest``)."""
    version: Annotated[int, Field(strict=True, ge=1)] = 1
    """Bumped by every update of a digest; the higher version wins everywhere (the store's
    upsert, the gateway's ``NOTIFICATION_UPDATE``, the SDKs)."""
