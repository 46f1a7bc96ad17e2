"""Request bodies and answer shapes of the console's admin API, for validation and for the
OpenAPI document (declared in :mod:`producer.admin.console.routes`). Answers are closed, like
:mod:`producer.api_shapes`, so a field the document does not name fails the conformance run.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.models import Id
from producer.api_shapes import Absent, NotificationOut, RedisMemory

__all__ = ["Build", "DeadLetter", "DeadLetterChoice", "DeadLetterList", "DeadLettersSettled",
           "LiveStats", "TestNotificationIn", "TestNotificationSent", "Trace", "UserView"]

MessageKey = str
REASON_PATTERN = r"^[a-z_]{1,64}$"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadLetterChoice(_Closed):
    """Which dead letters to replay or purge: ``ids`` (as listed), or every one with
    ``reason`` — one of the two."""

    ids: list[MessageKey] | None = Field(None, min_length=1, max_length=500,
                                         description="`id`s as `GET /v1/admin/dead-letters` "
                                                     "lists them.")
    reason: str | None = Field(None, pattern=REASON_PATTERN,
                               description="Every message dead-lettered for this reason.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many messages.")

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.ids is None) == (self.reason is None):
            raise ValueError("give either ids or reason")
        if self.ids is not None and any(not 1 <= len(i) <= 256 for i in self.ids):
            raise ValueError("an id is 1 to 256 characters")
        return self


class TestNotificationIn(_Closed):
    text: str = Field("Test notification from the Herald console", min_length=1,
                      max_length=500)


class DeadLetter(_Closed):
    id: str
    messageId: str | None
    reason: str
    detail: str | None
    routingKey: str
    deaths: int
    bytes: int
    body: str


class DeadLetterList(_Closed):
    deadLetters: list[DeadLetter] = Field(description="Oldest first; every one stays "
                                                      "queued. At most 1000 are looked at.")


class Settled(_Closed):
    id: str
    reason: str
    routingKey: str


class DeadLettersSettled(_Closed):
    replayed: list[Settled] | Absent = None
    purged: list[Settled] | Absent = None
    notFound: list[str] = Field(description="Chosen ids not found among the messages looked "
                                            "at.")


class Build(_Closed):
    version: str = Field(description="Herald's version, or `unknown`.")
    commit: str = Field(pattern=r"^([0-9a-f]{7,40}|unknown)$",
                        description="The git commit of the running code, or `unknown`.")


class LiveStats(_Closed):
    at: int = Field(description="Epoch ms of the answer.")
    build: Build = Field(description="The build of the producer answering (as its `/healthz` "
                                     "names it).")
    flows: dict[str, float | None] = Field(description="Per second, summed over replicas: "
                                                       "accepted, buffered, delivered, acked, "
                                                       "expired, refused (ingest answered 503 "
                                                       "for the broker) (null: no replica "
                                                       "reports).")
    levels: dict[str, float | None] = Field(description="notifyQueue, deadLetters, "
                                                        "deadLetterGrowthPerMinute, "
                                                        "bufferedNotifications, persistLag, "
                                                        "persistPending, consumerHolding (1: "
                                                        "Redis over its high-water mark).")
    redisMemory: RedisMemory | None = Field(None, description="Redis's memory as this producer "
                                                              "last read it.")
    gateways: list[dict[str, Any]] = Field(description="`{replica, connections}` each.")
    latency: dict[str, Any] = Field(description="Delivery latency `p50`, `p99` (seconds), "
                                                "`samples`, `windowSeconds`.")
    replicas: list[dict[str, Any]] = Field(description="`{service, replica, ageSeconds}` of "
                                                       "every live replica.")


class UserView(_Closed):
    userId: Id
    tenantId: Id
    connections: list[dict[str, Any]] = Field(description="`{replica, connections}` per "
                                                          "gateway replica with any.")
    pending: int
    notifications: list[NotificationOut]


class TestNotificationSent(_Closed):
    eventId: Id


class Trace(_Closed):
    eventId: Id
    stages: list[dict[str, Any]] = Field(description="Marks oldest first: `stage` (accepted, "
                                                     "consumed, buffered, collapsed, "
                                                     "muted, held, released, repeated, "
                                                     "rate_limited, dead_lettered, duplicate, "
                                                     "erased, delivered, acked, persisted), "
                                                     "`at` (epoch ms), `service`, `replica`, "
                                                     "and the stage's fields.")
