"""The shapes of the producer's JSON answers, as pydantic models, for the OpenAPI document.

The handlers build their answers as plain dicts (the fast lane serialises them with orjson);
these models exist only so :mod:`producer.openapi` can publish a schema for each answer. A
field written ``X | Absent = None`` may be left out of an answer but is never ``null`` in it.
They forbid extra fields, so an answer that grows a field the document does not name fails
the schemathesis run (tests/e2e/test_openapi_conformance.py) instead of drifting silently.
Request bodies live in :mod:`producer.schemas`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from common.models import Id, Notification
from common.records import Status

__all__ = [
    "BatchAccepted",
    "BatchItem",
    "DefaultLocale",
    "Error",
    "ErrorDetail",
    "EventAccepted",
    "Health",
    "KeyList",
    "KeyOut",
    "MarkedAllRead",
    "MarkedRead",
    "NewKeyOut",
    "NotificationOut",
    "NotificationPage",
    "Post",
    "PostList",
    "PreferencesOut",
    "ProfileOut",
    "QuietHoursOut",
    "Readiness",
    "RedisMemory",
    "SeedAccepted",
    "SubscriberPage",
    "Subscription",
    "SubscriptionsChanged",
    "TemplateList",
    "TemplateOut",
    "TemplatePreview",
    "TenantList",
    "TenantOut",
    "TokenOut",
    "TypeList",
    "TypeOut",
    "TypePreference",
    "UnreadCount",
    "UserTopics",
]


Absent = SkipJsonSchema[None]
"""``field: X | Absent = None``: optional in the answer, never null (the schema shows X only)."""


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """Drop ``"default": null``: an answer leaves such a field out, it does not default it."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)


class ErrorDetail(BaseModel):
    """One thing wrong with a request. Open to new keys: clients read ``field`` and
    ``message``."""

    model_config = ConfigDict(json_schema_extra=_no_null_defaults)

    field: str = Field(description="The field at fault (`targetIds.2`), or `body` for a rule "
                                   "across fields.")
    message: str | Absent = Field(None, description="What is wrong with it.")
    type: str | Absent = Field(None, description="pydantic's error type, on validation "
                                                 "errors.")
    value: Any = Field(None, description="A value to act on, e.g. the `eventId` to retry "
                                         "with after a 503.")


class Error(_Closed):
    """Every 4xx and 5xx answer (producer/errors.py)."""

    error: str = Field(description="A stable code: `invalid_json`, `invalid_event`, "
                                   "`unauthorized`, `broker_unavailable`, …")
    message: str = Field(description="A sentence for a human.")
    details: list[ErrorDetail] | Absent = Field(None, description="Present when there is "
                                                                  "something to point at.")


class EventAccepted(_Closed):
    eventId: Id


class SeedAccepted(_Closed):
    eventId: Id
    status: Literal["accepted"]


class BatchItem(_Closed):
    """The outcome of one event of a batch: ``eventId`` when it was published (202) or is to
    be retried (503); ``error`` and ``details`` when it was refused (422)."""

    index: int = Field(ge=0)
    status: Literal[202, 422, 503]
    eventId: Id | Absent = None
    error: str | Absent = None
    details: list[ErrorDetail] | Absent = None


class BatchAccepted(_Closed):
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    results: list[BatchItem]


class Post(_Closed):
    postId: str
    authorId: str
    text: str


class PostList(_Closed):
    posts: list[Post]


class NotificationOut(Notification):
    """A notification as the read API shows it: the wire fields plus ``status`` and
    ``readAt``."""

    # The wire fields are common.models.Notification's, inherited, not listed again; closed
    # like every answer here.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)

    status: Status
    seenAt: AwareDatetime | None
    readAt: AwareDatetime | None
    archivedAt: AwareDatetime | None


class NotificationPage(_Closed):
    notifications: list[NotificationOut]
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                               "the last.")
    hasMore: bool


class UnreadCount(_Closed):
    userId: Id
    tenantId: Id
    unread: int = Field(ge=0)


class MarkedRead(_Closed):
    notificationId: Id
    read: Literal[True]


class MarkedAllRead(_Closed):
    userId: Id
    tenantId: Id
    marked: int = Field(ge=0, description="How many notifications were unread and are read "
                                          "now (pending ones are acknowledged too).")


class Health(_Closed):
    status: Literal["ok"]
    version: str = Field(description="Herald's version (the package's), or `unknown`.")
    commit: str = Field(pattern=r"^([0-9a-f]{7,40}|unknown)$",
                        description="The git commit of the running code: `HERALD_GIT_COMMIT`, "
                                    "else `RAILWAY_GIT_COMMIT_SHA`, else the checkout's "
                                    "`HEAD`; `unknown` if none is known.")


class RedisMemory(_Closed):
    usedBytes: int = Field(ge=0, description="Redis's `used_memory`.")
    maxBytes: int = Field(ge=0, description="Redis's `maxmemory` (0: no limit).")
    policy: str = Field(description="`maxmemory-policy`; anything but `noeviction` is refused "
                                    "unless `HERALD_REDIS_ALLOW_EVICTION=true`.")
    fraction: float = Field(ge=0, description="`usedBytes` / `maxBytes` (0 without a limit).")
    holding: bool = Field(description="The consumer holds back (over its high-water mark).")
    evictionRefused: bool = Field(description="The policy would evict: this service is unready.")


class Readiness(_Closed):
    status: Literal["ready", "unready"]
    checks: dict[str, str] = Field(description="Each dependency: `ok`, or `down: …`.")
    redisMemory: RedisMemory | None = Field(
        None, description="Redis's memory as last read (every second), once read.")


class Erased(_Closed):
    pending: int = Field(ge=0, description="Pending notifications removed from Redis.")
    stream: int = Field(ge=0, description="Persist-stream entries removed.")
    stored: int = Field(ge=0, description="Stored rows removed.")


class UserErased(_Closed):
    userId: Id
    tenantId: Id
    erased: Erased


class UserExport(_Closed):
    userId: Id
    tenantId: Id
    exportedAt: AwareDatetime
    pending: list[NotificationOut]
    stored: list[NotificationOut]
    truncated: bool = Field(description="More was held than `limit` of either list.")
    limit: int = Field(ge=1)


class Index(_Closed):
    service: str
    ingest: str
    links: dict[str, str]
    readme: str


class TenantOut(_Closed):
    tenantId: Id
    name: str
    createdAt: AwareDatetime
    ratePerSecond: float | None = Field(description="Events per second; null: the producer's "
                                                    "RATE_LIMIT_PER_SECOND.")
    burst: int | None = Field(description="The most events at once; null: RATE_LIMIT_BURST.")


class TenantList(_Closed):
    tenants: list[TenantOut]


class KeyOut(_Closed):
    keyId: str = Field(description="Names the key in lists and logs; not secret.")
    tenantId: Id
    prefix: str = Field(description="How the key starts (`hk_<keyId>_`), never the secret.")
    name: str
    scopes: list[str]
    createdAt: AwareDatetime
    revokedAt: AwareDatetime | None


class KeyList(_Closed):
    keys: list[KeyOut]


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself. Shown this once: Herald keeps only its "
                                 "SHA-256.")


class TokenOut(_Closed):
    token: str = Field(description="An HS256 JWT (`sub`, `tid`, `exp`; `kid` in its header) "
                                   "for the gateway's AUTH frame and the read API.")
    expiresAt: AwareDatetime
    tokenType: Literal["Bearer"]
    userId: Id
    tenantId: Id


class TemplatePreview(_Closed):
    rendered: str = Field(description="The template rendered against `data`: plain text, "
                                      "not HTML-escaped.")


class TypeOut(_Closed):
    type: str
    priority: Literal["transactional", "promotional"]
    transactional: bool
    digestWindowSeconds: int = Field(ge=0)
    digestBy: list[str]
    defaultEnabled: bool
    quietHours: Literal["hold", "breakthrough"]
    builtin: bool = Field(description="One of the five built-ins (possibly redefined).")


class TypeList(_Closed):
    types: list[TypeOut]


class TemplateOut(_Closed):
    type: str
    locale: str
    source: str
    version: int = Field(ge=1, description="Grows by one at every save of this type and "
                                           "locale.")
    updatedAt: AwareDatetime


class TemplateList(_Closed):
    templates: list[TemplateOut]
    defaultLocale: str


class DefaultLocale(_Closed):
    defaultLocale: str


class ProfileOut(_Closed):
    userId: Id
    tenantId: Id
    locale: str | None
    timeZone: str | None


class QuietHoursOut(_Closed):
    start: str
    end: str


class TypePreference(_Closed):
    enabled: bool = Field(description="Whether the user receives this type.")
    transactional: bool = Field(description="Always on, whatever the user chose.")
    default: bool = Field(description="The type's default (`defaultEnabled`).")


class PreferencesOut(_Closed):
    userId: Id
    tenantId: Id
    types: dict[str, TypePreference]
    quietHours: QuietHoursOut | None


class Subscription(_Closed):
    tenantId: Id
    topic: str
    userId: Id
    subscribed: bool = Field(description="Whether the user is subscribed now.")
    changed: bool = Field(description="Whether this call changed it (false: it already was "
                                      "so).")


class SubscriptionsChanged(_Closed):
    tenantId: Id
    topic: str
    added: int = Field(ge=0, description="Subscriptions made (those already there are not "
                                          "counted).")
    removed: int = Field(ge=0, description="Subscriptions removed.")


class SubscriberPage(_Closed):
    tenantId: Id
    topic: str
    subscribers: list[Id] = Field(description="By ascending user id.")
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                               "the last.")


class UserTopics(_Closed):
    tenantId: Id
    userId: Id
    topics: list[str] = Field(description="By name.")
